using System.Numerics;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 multi-head self-attention for the CPU backend, same contract as the float64-summing reference
/// <see cref="Attention{T}"/> (packed qkv (B, T, 3C), probabilities (B, heads, T, T) kept for backward, masked
/// entries stored as 0, backward accumulating into dQkv).
/// </summary>
/// <remarks>
/// Inner loops run over the head dimension with <see cref="Vector{T}"/> (contiguous within a row of qkv), summing
/// in float32. Each (batch, head) pair is one task that writes only its own slices, with a fixed order of
/// operations, so results are bit-identical run to run and for any thread count.
/// </remarks>
public static unsafe class CpuAttention
{
    public static void Forward(float* output, float* probabilities, float* qkv, int B, int T, int C, int heads, bool causal)
    {
        int hs = C / heads;
        float scale = 1f / MathF.Sqrt(hs);
        long rowStride = 3L * C;
        ParallelRows.For(B * heads, bh =>
        {
            int b = bh / heads, h = bh % heads;
            float* qBase = qkv + (long)b * T * rowStride + h * hs;
            float* kBase = qBase + C, vBase = qBase + 2 * C;
            float* att = probabilities + (long)bh * T * T;
            for (int t = 0; t < T; t++)
            {
                float* q = qBase + t * rowStride;
                float* row = att + (long)t * T;
                int last = causal ? t : T - 1;
                float max = float.NegativeInfinity;
                for (int u = 0; u <= last; u++)
                {
                    float s = Dot(q, kBase + u * rowStride, hs) * scale;
                    row[u] = s;
                    if (s > max) max = s;
                }
                float sum = 0;
                for (int u = 0; u <= last; u++) { float e = MathF.Exp(row[u] - max); row[u] = e; sum += e; }
                float inverse = 1f / sum;
                for (int u = 0; u <= last; u++) row[u] *= inverse;
                for (int u = last + 1; u < T; u++) row[u] = 0;

                float* o = output + ((long)b * T + t) * C + h * hs;
                new Span<float>(o, hs).Clear();
                for (int u = 0; u <= last; u++) AddScaled(o, vBase + u * rowStride, row[u], hs);
            }
        });
    }

    /// <summary>
    /// With P the probabilities and dP = dO·Vᵀ: dV += Pᵀ·dO; dS = P ∘ (dP − rowsum(P ∘ dP)); dQ += scale·dS·K;
    /// dK += scale·dSᵀ·Q.
    /// </summary>
    public static void Backward(float* dQkv, float* dOutput, float* qkv, float* probabilities, int B, int T, int C, int heads, bool causal)
    {
        int hs = C / heads;
        float scale = 1f / MathF.Sqrt(hs);
        long rowStride = 3L * C;
        ParallelRows.For(B * heads, bh =>
        {
            int b = bh / heads, h = bh % heads;
            float* qBase = qkv + (long)b * T * rowStride + h * hs;
            float* kBase = qBase + C, vBase = qBase + 2 * C;
            float* dqBase = dQkv + (long)b * T * rowStride + h * hs;
            float* dkBase = dqBase + C, dvBase = dqBase + 2 * C;
            float* att = probabilities + (long)bh * T * T;
            var dScores = new float[T];
            for (int t = 0; t < T; t++)
            {
                int last = causal ? t : T - 1;
                float* dO = dOutput + ((long)b * T + t) * C + h * hs;
                float* row = att + (long)t * T;
                float rowDot = 0;
                for (int u = 0; u <= last; u++)
                {
                    float dp = Dot(dO, vBase + u * rowStride, hs);
                    AddScaled(dvBase + u * rowStride, dO, row[u], hs);
                    dScores[u] = dp;
                    rowDot += row[u] * dp;
                }
                float* q = qBase + t * rowStride;
                float* dq = dqBase + t * rowStride;
                for (int u = 0; u <= last; u++)
                {
                    float ds = row[u] * (dScores[u] - rowDot) * scale;
                    AddScaled(dq, kBase + u * rowStride, ds, hs);
                    AddScaled(dkBase + u * rowStride, q, ds, hs);
                }
            }
        });
    }

    /// <summary>Σ a[i]·b[i], vector lanes first then the lanes summed in order, then the scalar tail.</summary>
    static float Dot(float* a, float* b, int n)
    {
        int width = Vector<float>.Count, i = 0;
        var acc = Vector<float>.Zero;
        for (; i <= n - width; i += width)
            acc += Vector.Load(a + i) * Vector.Load(b + i);
        float sum = Vector.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>y[i] += factor·x[i].</summary>
    static void AddScaled(float* y, float* x, float factor, int n)
    {
        int width = Vector<float>.Count, i = 0;
        var f = new Vector<float>(factor);
        for (; i <= n - width; i += width)
            Vector.Store(Vector.Load(y + i) + f * Vector.Load(x + i), y + i);
        for (; i < n; i++) y[i] += factor * x[i];
    }
}
