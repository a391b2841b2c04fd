using System.Numerics;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 multi-head attention for the CPU backend, same contract as the float64-summing reference
/// <see cref="Attention{T}"/>: strided q/k/v rows, optional key padding mask and relative-position bias, hidden
/// entries of the kept (B, heads, Tq, Tk) probabilities stored as 0, backward accumulating.
/// </summary>
/// <remarks>
/// Inner loops run over the head dimension with <see cref="Vector{T}"/> (contiguous within a row), summing in
/// float32. Each (batch, head) pair is one task that writes only its own slices, with a fixed order of operations,
/// so results are bit-identical run to run and for any thread count. Masked keys are skipped, not added as −∞.
/// </remarks>
public static unsafe class CpuAttention
{
    /// <summary>GPT-2's packed self-attention: qkv (B, T, 3C), scale 1/√(C/heads).</summary>
    public static void Forward(float* output, float* probabilities, float* qkv, int B, int T, int C, int heads, bool causal) =>
        Forward(AttentionShape.Packed(B, T, C, heads, causal), output, probabilities, qkv, qkv + C, qkv + 2 * C, null, null);

    public static void Backward(float* dQkv, float* dOutput, float* qkv, float* probabilities, int B, int T, int C, int heads, bool causal) =>
        Backward(AttentionShape.Packed(B, T, C, heads, causal), dQkv, dQkv + C, dQkv + 2 * C, null, dOutput, qkv, qkv + C, qkv + 2 * C, probabilities);

    public static void Forward(AttentionShape s, float* output, float* probabilities, float* q, float* k, float* v, int* keyMask, float* positionBias)
    {
        s.Validate();
        int Tq = s.QueryLength, Tk = s.KeyLength;
        ParallelRows.For(s.B * s.Heads, bh =>
        {
            float* att = probabilities + (long)bh * Tq * Tk;
            for (int t = 0; t < Tq; t++) ForwardRow(s, bh, t, att + (long)t * Tk, output, q, k, v, keyMask, positionBias);
        });
    }

    /// <summary>
    /// The flash-attention form of <see cref="Forward"/>: the same output (bit for bit), but only each query row's
    /// log-sum-exp of its scores (position bias included) is kept, lse (B, heads, Tq), not the probabilities; +∞ for a
    /// row with no visible key.
    /// </summary>
    public static void ForwardLse(AttentionShape s, float* output, float* lse, float* q, float* k, float* v, int* keyMask, float* positionBias)
    {
        s.Validate();
        int Tq = s.QueryLength;
        ParallelRows.For(s.B * s.Heads, bh =>
        {
            var row = new float[s.KeyLength];
            fixed (float* r = row)
                for (int t = 0; t < Tq; t++)
                {
                    var (max, sum) = ForwardRow(s, bh, t, r, output, q, k, v, keyMask, positionBias);
                    lse[(long)bh * Tq + t] = sum > 0 ? max + MathF.Log(sum) : float.PositiveInfinity;
                }
        });
    }

    /// <summary>Query row t of head pair bh: its probabilities into row (hidden keys 0), its output row written;
    /// returns the largest score and Σ exp(score − max) over the visible keys.</summary>
    static (float Max, float Sum) ForwardRow(AttentionShape s, int bh, int t, float* row, float* output, float* q, float* k, float* v, int* keyMask, float* positionBias)
    {
        int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength;
        int b = bh / s.Heads, h = bh % s.Heads;
        float scale = (float)s.Scale;
        float* kBase = k + (long)b * Tk * s.KeyValueStride + h * hs;
        float* vBase = v + (long)b * Tk * s.KeyValueStride + h * hs;
        int* mask = keyMask == null ? null : keyMask + (long)b * Tk;
        float* qRow = q + ((long)b * Tq + t) * s.QueryStride + h * hs;
        float* bias = positionBias == null ? null : positionBias + ((long)h * Tq + t) * Tk;
        int end = s.KeyEnd(t);
        float max = float.NegativeInfinity;
        for (int u = 0; u < end; u++)
        {
            if (mask != null && mask[u] == 0) continue;
            float score = Dot(qRow, kBase + (long)u * s.KeyValueStride, hs) * scale;
            if (bias != null) score += bias[u];
            row[u] = score;
            if (score > max) max = score;
        }
        float sum = 0;
        for (int u = 0; u < end; u++)
        {
            if (mask != null && mask[u] == 0) { row[u] = 0; continue; }
            float e = MathF.Exp(row[u] - max);
            row[u] = e; sum += e;
        }
        float inverse = sum > 0 ? 1f / sum : 0;
        for (int u = 0; u < end; u++) row[u] *= inverse;
        for (int u = end; u < Tk; u++) row[u] = 0;

        float* o = output + ((long)b * Tq + t) * s.Inner + h * hs;
        new Span<float>(o, hs).Clear();
        for (int u = 0; u < end; u++)
            if (row[u] != 0) AddScaled(o, vBase + (long)u * s.KeyValueStride, row[u], hs);
        return (max, sum);
    }

    /// <summary>
    /// With P the probabilities and dP = dO·Vᵀ: dV += Pᵀ·dO; dS = P ∘ (dP − rowsum(P ∘ dP)); dQ += scale·dS·K;
    /// dK += scale·dSᵀ·Q; with dPositionBias, the probabilities are overwritten by dS and summed over the batch.
    /// </summary>
    public static void Backward(AttentionShape s, float* dq, float* dk, float* dv, float* dPositionBias, float* dOutput, float* q, float* k, float* v, float* probabilities)
    {
        s.Validate();
        int Tq = s.QueryLength, Tk = s.KeyLength;
        ParallelRows.For(s.B * s.Heads, bh =>
        {
            float* att = probabilities + (long)bh * Tq * Tk;
            var dScores = new float[Tk];
            fixed (float* d = dScores)
                for (int t = 0; t < Tq; t++) BackwardRow(s, bh, t, att + (long)t * Tk, d, dq, dk, dv, dOutput, q, k, v, keepScoreGradients: dPositionBias != null);
        });
        if (dPositionBias != null) Attention<float>.SumBiasGradient(s, dPositionBias, probabilities);
    }

    /// <summary>
    /// The backward of <see cref="ForwardLse"/>: each row's probabilities recomputed from q, k, the bias and its lse
    /// as exp(score − lse) (hidden keys 0), then the same row backward as <see cref="Backward"/>. With dPositionBias,
    /// each head's rows are taken batch by batch in one task, so dBias[h] += dS of batch 0, 1, … in that order.
    /// </summary>
    public static void BackwardLse(AttentionShape s, float* dq, float* dk, float* dv, float* dPositionBias, float* dOutput, float* q, float* k, float* v, float* lse, int* keyMask, float* positionBias)
    {
        s.Validate();
        if (dPositionBias != null && positionBias == null) throw new ArgumentException("a position-bias gradient needs the forward's position bias");
        int Tq = s.QueryLength, Tk = s.KeyLength;
        void Rows(int bh, float* r, float* d)
        {
            int h = bh % s.Heads;
            for (int t = 0; t < Tq; t++)
            {
                RecomputeRow(s, bh, t, r, q, k, lse, keyMask, positionBias);
                BackwardRow(s, bh, t, r, d, dq, dk, dv, dOutput, q, k, v, keepScoreGradients: dPositionBias != null);
                if (dPositionBias == null) continue;
                float* dBias = dPositionBias + ((long)h * Tq + t) * Tk;
                for (int u = 0; u < s.KeyEnd(t); u++) dBias[u] += r[u];
            }
        }
        if (dPositionBias == null)
            ParallelRows.For(s.B * s.Heads, bh =>
            {
                var row = new float[Tk]; var dScores = new float[Tk];
                fixed (float* r = row, d = dScores) Rows(bh, r, d);
            });
        else
            ParallelRows.For(s.Heads, h =>
            {
                var row = new float[Tk]; var dScores = new float[Tk];
                fixed (float* r = row, d = dScores)
                    for (int b = 0; b < s.B; b++) Rows(b * s.Heads + h, r, d);
            });
    }

    /// <summary>Query row t of head pair bh's probabilities, exp(score + bias − lse), into row (hidden keys 0).</summary>
    static void RecomputeRow(AttentionShape s, int bh, int t, float* row, float* q, float* k, float* lse, int* keyMask, float* positionBias)
    {
        int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength;
        int b = bh / s.Heads, h = bh % s.Heads;
        float scale = (float)s.Scale;
        float* kBase = k + (long)b * Tk * s.KeyValueStride + h * hs;
        int* mask = keyMask == null ? null : keyMask + (long)b * Tk;
        float* bias = positionBias == null ? null : positionBias + ((long)h * Tq + t) * Tk;
        float rowLse = lse[(long)bh * Tq + t];
        float* qRow = q + ((long)b * Tq + t) * s.QueryStride + h * hs;
        for (int u = 0; u < s.KeyEnd(t); u++)
        {
            if ((mask != null && mask[u] == 0) || float.IsPositiveInfinity(rowLse)) { row[u] = 0; continue; }
            float score = Dot(qRow, kBase + (long)u * s.KeyValueStride, hs) * scale;
            if (bias != null) score += bias[u];
            row[u] = MathF.Exp(score - rowLse);
        }
    }

    /// <summary>Query row t of head pair bh given its probabilities (row): accumulates dq, dk, dv; with
    /// keepScoreGradients the row is overwritten by dS (the position bias's gradient).</summary>
    static void BackwardRow(AttentionShape s, int bh, int t, float* row, float* dScores, float* dq, float* dk, float* dv, float* dOutput, float* q, float* k, float* v, bool keepScoreGradients)
    {
        int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength;
        int b = bh / s.Heads, h = bh % s.Heads;
        float scale = (float)s.Scale;
        long kvStart = (long)b * Tk * s.KeyValueStride + h * hs;
        float* kBase = k + kvStart, vBase = v + kvStart, dkBase = dk + kvStart, dvBase = dv + kvStart;
        int end = s.KeyEnd(t);
        float* dO = dOutput + ((long)b * Tq + t) * s.Inner + h * hs;
        float rowDot = 0;
        for (int u = 0; u < end; u++)
        {
            if (row[u] == 0) { dScores[u] = 0; continue; } // hidden key (or underflow): no gradient
            long at = (long)u * s.KeyValueStride;
            float dp = Dot(dO, vBase + at, hs);
            AddScaled(dvBase + at, dO, row[u], hs);
            dScores[u] = dp;
            rowDot += row[u] * dp;
        }
        long qAt = ((long)b * Tq + t) * s.QueryStride + h * hs;
        float* qRow = q + qAt, dqRow = dq + qAt;
        for (int u = 0; u < end; u++)
        {
            float ds = row[u] * (dScores[u] - rowDot);
            if (keepScoreGradients) row[u] = ds;
            if (ds == 0) continue;
            long at = (long)u * s.KeyValueStride;
            AddScaled(dqRow, kBase + at, ds * scale, hs);
            AddScaled(dkBase + at, qRow, ds * scale, hs);
        }
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
