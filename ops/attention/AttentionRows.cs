using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// The row-wise steps of attention between its matrix products: softmax of a score row, its recomputation from the
/// log-sum-exp, and the score gradient dS = P ∘ (dP − rowsum(P ∘ dP)). Rows live in buffers padded to whole groups
/// of 8 floats; every entry past the row's last visible key is left 0, as the products that follow read whole tiles.
/// </summary>
/// <remarks>
/// One code path on <see cref="Vector256{T}"/> for every machine (AVX-512 and AVX2 both run it natively), so these
/// steps give the same bits on either; sums run over eight lanes, then the lanes in order, in a fixed order per row.
/// Exponentials use <see cref="VectorMath.Exp(Vector256{float})"/>, the elementwise ops' exp: no FMA, so the same
/// bits on every CPU; relative error ≤ 1.5e-7 against float64 wherever the result is a normal float (VectorMath's
/// doc and tests), exactly 0 below that (e^x under 1.2e-38: a probability that small is 0 in any case), and exp(−∞)
/// = 0, which is how hidden keys drop out.
/// <para>Memory: a head's scores and score gradients are two (Tq + 8) × Tk' floats per thread (Tk' = Tk rounded up
/// to 32), reused across calls.</para>
/// </remarks>
internal static unsafe class AttentionRows
{
    const int Lanes = 8;

    /// <summary>
    /// Turns raw dot products q·k in row[0, end) into probabilities over row[0, padTo): score = dot·scale (+ bias),
    /// keys with mask 0 hidden, keys at or past end hidden (0). Returns the largest visible score (−∞ if none) and
    /// Σ exp(score − max) over the visible keys (0 if none, then the row is all 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (float Max, float Sum) Softmax(float* row, int end, int padTo, float scale, float* bias, int* mask)
    {
        int vecEnd = Scores(row, end, padTo, scale, bias, mask, 0f);
        var maxV = Vector256.Create(float.NegativeInfinity);
        for (int u = 0; u < vecEnd; u += Lanes) maxV = Vector256.Max(maxV, Vector256.Load(row + u));
        float max = float.NegativeInfinity;
        for (int l = 0; l < Lanes; l++) max = Math.Max(max, maxV[l]);
        if (float.IsNegativeInfinity(max))
        {
            new Span<float>(row, padTo).Clear();
            return (max, 0f);
        }
        var shift = Vector256.Create(max);
        var sumV = Vector256<float>.Zero;
        for (int u = 0; u < vecEnd; u += Lanes)
        {
            var e = VectorMath.Exp(Vector256.Load(row + u) - shift);
            e.Store(row + u);
            sumV += e;
        }
        float sum = Vector256.Sum(sumV);
        var inverse = Vector256.Create(1f / sum);
        for (int u = 0; u < vecEnd; u += Lanes) (Vector256.Load(row + u) * inverse).Store(row + u);
        return (max, sum);
    }

    /// <summary>
    /// Recomputes probabilities from raw dot products in row[0, end) and the row's log-sum-exp:
    /// exp(dot·scale (+ bias) − lse), hidden keys and keys past end 0 (the whole row when lse = +∞).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Recompute(float* row, int end, int padTo, float scale, float* bias, int* mask, float lse)
    {
        if (float.IsPositiveInfinity(lse))
        {
            new Span<float>(row, padTo).Clear();
            return;
        }
        int vecEnd = Scores(row, end, padTo, scale, bias, mask, lse);
        for (int u = 0; u < vecEnd; u += Lanes) VectorMath.Exp(Vector256.Load(row + u)).Store(row + u);
    }

    /// <summary>
    /// row[u] = dot·scale (+ bias[u]) − shift for the visible keys u &lt; end, −∞ for hidden ones up to the next
    /// multiple of 8, 0 from there to padTo. Returns that multiple of 8.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Scores(float* row, int end, int padTo, float scale, float* bias, int* mask, float shift)
    {
        int vecEnd = (end + Lanes - 1) / Lanes * Lanes, full = end / Lanes * Lanes;
        var scaleV = Vector256.Create(scale);
        var shiftV = Vector256.Create(shift);
        int u = 0;
        for (; u < full; u += Lanes)
        {
            var x = Vector256.Load(row + u) * scaleV;
            if (bias != null) x += Vector256.Load(bias + u);
            (x - shiftV).Store(row + u);
        }
        for (; u < end; u++)
        {
            float x = row[u] * scale;
            if (bias != null) x += bias[u];
            row[u] = x - shift;
        }
        for (; u < vecEnd; u++) row[u] = float.NegativeInfinity;
        new Span<float>(row + vecEnd, padTo - vecEnd).Clear();
        if (mask != null)
            for (u = 0; u < end; u++)
                if (mask[u] == 0) row[u] = float.NegativeInfinity;
        return vecEnd;
    }

    /// <summary>
    /// Given probabilities p and dP = dO·Vᵀ in dp (both valid on [0, end)): dp[u] = scale·dS[u] with
    /// dS = p ∘ (dp − Σ p ∘ dp) for u &lt; end and 0 on [end, padTo). With keep, the unscaled dS (the position
    /// bias's gradient) is also written (accumulate false) or added (accumulate true) to keep[0, end).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScoreGradient(float* p, float* dp, int end, int padTo, float scale, float* keep, bool accumulate)
    {
        int full = end / Lanes * Lanes, u = 0;
        var dotV = Vector256<float>.Zero;
        for (; u < full; u += Lanes) dotV += Vector256.Load(p + u) * Vector256.Load(dp + u);
        float rowDot = Vector256.Sum(dotV);
        for (; u < end; u++) rowDot += p[u] * dp[u];

        var rowDotV = Vector256.Create(rowDot);
        var scaleV = Vector256.Create(scale);
        for (u = 0; u < full; u += Lanes)
        {
            var ds = Vector256.Load(p + u) * (Vector256.Load(dp + u) - rowDotV);
            (ds * scaleV).Store(dp + u);
            if (keep != null) (accumulate ? Vector256.Load(keep + u) + ds : ds).Store(keep + u);
        }
        for (; u < end; u++)
        {
            float ds = p[u] * (dp[u] - rowDot);
            dp[u] = ds * scale;
            if (keep != null) keep[u] = accumulate ? keep[u] + ds : ds;
        }
        new Span<float>(dp + end, padTo - end).Clear();
    }
}
