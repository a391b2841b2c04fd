using System.Numerics;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// Multi-head scaled dot-product attention, the reference every fast kernel is tested against. Scores are
/// scale·q·k + bias[h, t, u] (an optional relative-position bias shared by the batch, T5's), restricted to keys the
/// causal rule and the key padding mask (keyMask[b, u] = 0 hides key u, BERT's attention_mask) allow. The CPU keeps
/// the (B, heads, Tq, Tk) probabilities for backward; hidden entries are stored as 0, so backward needs no mask.
/// A query row with no visible key outputs 0. Each (b, head) pair is one independent task that writes only its own
/// slices: parallel and deterministic.
/// </summary>
public static unsafe class Attention<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>GPT-2's packed self-attention: qkv (B, T, 3C), scale 1/√(C/heads).</summary>
    public static void Forward(T* output, T* probabilities, T* qkv, int B, int T_, int C, int heads, bool causal) =>
        Forward(AttentionShape.Packed(B, T_, C, heads, causal), output, probabilities, qkv, qkv + C, qkv + 2 * C, null, null);

    public static void Backward(T* dQkv, T* dOutput, T* qkv, T* probabilities, int B, int T_, int C, int heads, bool causal) =>
        Backward(AttentionShape.Packed(B, T_, C, heads, causal), dQkv, dQkv + C, dQkv + 2 * C, null, dOutput, qkv, qkv + C, qkv + 2 * C, probabilities);

    public static void Forward(AttentionShape s, T* output, T* probabilities, T* q, T* k, T* v, int* keyMask, T* positionBias)
    {
        s.Validate();
        int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength, inner = s.Inner;
        ParallelRows.For(s.B * s.Heads, bh =>
        {
            int b = bh / s.Heads, h = bh % s.Heads;
            T* att = probabilities + (long)bh * Tq * Tk;
            var scores = new double[Tk];
            for (int t = 0; t < Tq; t++)
            {
                T* qRow = q + ((long)b * Tq + t) * s.QueryStride + h * hs;
                int end = s.KeyEnd(t);
                double max = double.NegativeInfinity;
                for (int u = 0; u < end; u++)
                {
                    if (keyMask != null && keyMask[b * Tk + u] == 0) { scores[u] = double.NegativeInfinity; continue; }
                    T* kRow = k + ((long)b * Tk + u) * s.KeyValueStride + h * hs;
                    double dot = 0;
                    for (int i = 0; i < hs; i++) dot += double.CreateTruncating(qRow[i]) * double.CreateTruncating(kRow[i]);
                    scores[u] = dot * s.Scale + (positionBias == null ? 0 : double.CreateTruncating(positionBias[((long)h * Tq + t) * Tk + u]));
                    if (scores[u] > max) max = scores[u];
                }
                double sum = 0;
                for (int u = 0; u < end; u++)
                {
                    scores[u] = double.IsNegativeInfinity(scores[u]) ? 0 : Math.Exp(scores[u] - max);
                    sum += scores[u];
                }
                T* row = att + (long)t * Tk;
                for (int u = 0; u < Tk; u++) row[u] = u < end && sum > 0 ? T.CreateTruncating(scores[u] / sum) : T.Zero;
                T* o = output + ((long)b * Tq + t) * inner + h * hs;
                for (int i = 0; i < hs; i++)
                {
                    double acc = 0;
                    for (int u = 0; u < end; u++)
                        acc += double.CreateTruncating(row[u]) * double.CreateTruncating(v[((long)b * Tk + u) * s.KeyValueStride + h * hs + i]);
                    o[i] = T.CreateTruncating(acc);
                }
            }
        });
    }

    /// <summary>
    /// With P the probabilities and dP = dO·Vᵀ: dV += Pᵀ·dO; dS = P ∘ (dP − rowsum(P ∘ dP)); dQ += scale·dS·K;
    /// dK += scale·dSᵀ·Q; dBias[h] += Σ_b dS (when dPositionBias is given). Accumulates into every gradient.
    /// When dPositionBias is given the probabilities are overwritten with dS (they are not needed afterwards), so
    /// the sum over the batch runs as a second deterministic pass without another buffer.
    /// </summary>
    public static void Backward(AttentionShape s, T* dq, T* dk, T* dv, T* dPositionBias, T* dOutput, T* q, T* k, T* v, T* probabilities)
    {
        s.Validate();
        int hs = s.HeadSize, Tq = s.QueryLength, Tk = s.KeyLength, inner = s.Inner;
        ParallelRows.For(s.B * s.Heads, bh =>
        {
            int b = bh / s.Heads, h = bh % s.Heads;
            T* att = probabilities + (long)bh * Tq * Tk;
            var dScores = new double[Tk];
            for (int t = 0; t < Tq; t++)
            {
                int end = s.KeyEnd(t);
                T* dO = dOutput + ((long)b * Tq + t) * inner + h * hs;
                T* row = att + (long)t * Tk;
                double rowDot = 0;
                for (int u = 0; u < end; u++)
                {
                    long kv = ((long)b * Tk + u) * s.KeyValueStride + h * hs;
                    double p = double.CreateTruncating(row[u]);
                    double dp = 0;
                    for (int i = 0; i < hs; i++)
                    {
                        double g = double.CreateTruncating(dO[i]);
                        dp += g * double.CreateTruncating(v[kv + i]);
                        dv[kv + i] += T.CreateTruncating(p * g);
                    }
                    dScores[u] = dp;
                    rowDot += p * dp;
                }
                long qOffset = ((long)b * Tq + t) * s.QueryStride + h * hs;
                for (int u = 0; u < end; u++)
                {
                    double ds = double.CreateTruncating(row[u]) * (dScores[u] - rowDot);
                    long kOffset = ((long)b * Tk + u) * s.KeyValueStride + h * hs;
                    for (int i = 0; i < hs; i++)
                    {
                        dq[qOffset + i] += T.CreateTruncating(ds * s.Scale * double.CreateTruncating(k[kOffset + i]));
                        dk[kOffset + i] += T.CreateTruncating(ds * s.Scale * double.CreateTruncating(q[qOffset + i]));
                    }
                    if (dPositionBias != null) row[u] = T.CreateTruncating(ds);
                }
            }
        });
        if (dPositionBias != null) SumBiasGradient(s, dPositionBias, probabilities);
    }

    /// <summary>dBias[h, t, u] += Σ_b dS[b, h, t, u], batch in order (deterministic).</summary>
    internal static void SumBiasGradient(AttentionShape s, T* dPositionBias, T* dScores)
    {
        int Tq = s.QueryLength, Tk = s.KeyLength;
        ParallelRows.For(s.Heads * Tq, ht =>
        {
            int h = ht / Tq, t = ht % Tq;
            for (int u = 0; u < s.KeyEnd(t); u++)
            {
                double sum = 0;
                for (int b = 0; b < s.B; b++) sum += double.CreateTruncating(dScores[(((long)b * s.Heads + h) * Tq + t) * Tk + u]);
                dPositionBias[((long)h * Tq + t) * Tk + u] += T.CreateTruncating(sum);
            }
        });
    }
}
