using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// Multi-head scaled dot-product self-attention over packed qkv (B, T, 3C): q = [0, C), k = [C, 2C), v = [2C, 3C),
/// head h at [h·hs, (h+1)·hs). The CPU keeps the (B, heads, T, T) probabilities for backward; the GPU version
/// recomputes them tile by tile instead. Rows of a causal mask beyond t are stored as 0.
/// Each (b, head) pair is one independent task that writes only its own slices: parallel and deterministic.
/// </summary>
public static unsafe class Attention<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward(T* output, T* probabilities, T* qkv, int B, int T_, int C, int heads, bool causal)
    {
        int hs = C / heads;
        double scale = 1.0 / Math.Sqrt(hs);
        ParallelRows.For(B * heads, bh =>
        {
            int b = bh / heads, h = bh % heads;
            T* qkvB = qkv + (long)b * T_ * 3 * C;
            T* att = probabilities + (long)bh * T_ * T_;
            var scores = new double[T_];
            for (int t = 0; t < T_; t++)
            {
                T* q = qkvB + (long)t * 3 * C + h * hs;
                int last = causal ? t : T_ - 1;
                double max = double.NegativeInfinity;
                for (int u = 0; u <= last; u++)
                {
                    T* k = qkvB + (long)u * 3 * C + C + h * hs;
                    double dot = 0;
                    for (int i = 0; i < hs; i++) dot += double.CreateTruncating(q[i]) * double.CreateTruncating(k[i]);
                    scores[u] = dot * scale;
                    if (scores[u] > max) max = scores[u];
                }
                double sum = 0;
                for (int u = 0; u <= last; u++) { scores[u] = Math.Exp(scores[u] - max); sum += scores[u]; }
                T* row = att + (long)t * T_;
                for (int u = 0; u < T_; u++) row[u] = u <= last ? T.CreateTruncating(scores[u] / sum) : T.Zero;
                T* o = output + ((long)b * T_ + t) * C + h * hs;
                for (int i = 0; i < hs; i++)
                {
                    double acc = 0;
                    for (int u = 0; u <= last; u++)
                        acc += double.CreateTruncating(row[u]) * double.CreateTruncating(qkvB[(long)u * 3 * C + 2 * C + h * hs + i]);
                    o[i] = T.CreateTruncating(acc);
                }
            }
        });
    }

    /// <summary>
    /// With P the probabilities and dP = dO·Vᵀ: dV += Pᵀ·dO; dS = P ∘ (dP − rowsum(P ∘ dP)); dQ += scale·dS·K;
    /// dK += scale·dSᵀ·Q. Accumulates into dQkv.
    /// </summary>
    public static void Backward(T* dQkv, T* dOutput, T* qkv, T* probabilities, int B, int T_, int C, int heads, bool causal)
    {
        int hs = C / heads;
        double scale = 1.0 / Math.Sqrt(hs);
        ParallelRows.For(B * heads, bh =>
        {
            int b = bh / heads, h = bh % heads;
            T* qkvB = qkv + (long)b * T_ * 3 * C;
            T* dqkvB = dQkv + (long)b * T_ * 3 * C;
            T* att = probabilities + (long)bh * T_ * T_;
            var dScores = new double[T_];
            for (int t = 0; t < T_; t++)
            {
                int last = causal ? t : T_ - 1;
                T* dO = dOutput + ((long)b * T_ + t) * C + h * hs;
                T* row = att + (long)t * T_;
                double rowDot = 0;
                for (int u = 0; u <= last; u++)
                {
                    T* v = qkvB + (long)u * 3 * C + 2 * C + h * hs;
                    T* dv = dqkvB + (long)u * 3 * C + 2 * C + h * hs;
                    double p = double.CreateTruncating(row[u]);
                    double dp = 0;
                    for (int i = 0; i < hs; i++)
                    {
                        double g = double.CreateTruncating(dO[i]);
                        dp += g * double.CreateTruncating(v[i]);
                        dv[i] += T.CreateTruncating(p * g);
                    }
                    dScores[u] = dp;
                    rowDot += p * dp;
                }
                T* q = qkvB + (long)t * 3 * C + h * hs;
                T* dq = dqkvB + (long)t * 3 * C + h * hs;
                for (int u = 0; u <= last; u++)
                {
                    double ds = double.CreateTruncating(row[u]) * (dScores[u] - rowDot) * scale;
                    T* k = qkvB + (long)u * 3 * C + C + h * hs;
                    T* dk = dqkvB + (long)u * 3 * C + C + h * hs;
                    for (int i = 0; i < hs; i++)
                    {
                        dq[i] += T.CreateTruncating(ds * double.CreateTruncating(k[i]));
                        dk[i] += T.CreateTruncating(ds * double.CreateTruncating(q[i]));
                    }
                }
            }
        });
    }
}
