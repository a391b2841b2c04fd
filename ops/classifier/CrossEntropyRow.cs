using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// One row of <see cref="CpuCrossEntropy"/>: loss = log Σ e^(x − max) + max − x[target], and (scale ≠ 0) the
/// gradient scale·(e^(x − max)/sum − onehot) written over the row's V logits. Three passes, each on Vector512,
/// Vector256 or scalar code with the same bits:
/// <list type="bullet">
/// <item>max: exact in any order (IEEE maximum, so a NaN anywhere makes it NaN);</item>
/// <item>e = <see cref="VectorMath.Exp"/>(x − max), stored over the row when a gradient is wanted, and summed in one
/// fixed order: 16 lane sums (lane k takes the elements k, k + 16, … of the first 16·⌊V/16⌋, in order), folded
/// 8 + 8, 4 + 4, then (0 + 2) + (1 + 3), then the last V mod 16 elements in order; a Vector512 is those 16 lanes,
/// two Vector256 are its halves;</item>
/// <item>gradient = e · (scale/sum), then scale subtracted at the target.</item>
/// </list>
/// A row whose maximum is not finite (a NaN, +∞, or all −∞) gets a NaN loss and NaN gradients, as the reference does.
/// </summary>
internal static unsafe class CrossEntropyRow
{
    const int Lanes = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float LossAndGradient(float* row, int V, int target, float scale, SimdLevel level)
    {
        float max = Max(row, V, level);
        bool gradient = scale != 0;
        if (!float.IsFinite(max))
        {
            if (gradient) new Span<float>(row, V).Fill(float.NaN);
            return float.NaN;
        }
        float targetLogit = row[target];
        float sum = gradient ? SumExp<Store>(row, V, max, level) : SumExp<Discard>(row, V, max, level);
        if (gradient)
        {
            Scale(row, V, scale / sum, level);
            row[target] -= scale;
        }
        return MathF.Log(sum) + max - targetLogit;
    }

    static float Max(float* x, int n, SimdLevel level)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (level == SimdLevel.Vector512 && n >= 16)
        {
            var acc = Vector512.Create(float.NegativeInfinity);
            for (; i + 16 <= n; i += 16) acc = Vector512.Max(acc, Vector512.Load(x + i));
            max = ToScalarMax(Vector256.Max(acc.GetLower(), acc.GetUpper()));
        }
        else if (level >= SimdLevel.Vector256 && n >= 8)
        {
            var acc = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8) acc = Vector256.Max(acc, Vector256.Load(x + i));
            max = ToScalarMax(acc);
        }
        for (; i < n; i++) max = MathF.Max(max, x[i]);
        return max;
    }

    static float ToScalarMax(Vector256<float> v)
    {
        var h = Vector128.Max(v.GetLower(), v.GetUpper());
        return MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
    }

    // Whether the exponentials are written over the row (a gradient follows) or only summed.
    interface IExpSink { static abstract bool Stores { get; } }
    readonly struct Store : IExpSink { public static bool Stores => true; }
    readonly struct Discard : IExpSink { public static bool Stores => false; }

    static float SumExp<TSink>(float* x, int n, float max, SimdLevel level) where TSink : IExpSink
    {
        int body = n / Lanes * Lanes, i = 0;
        float sum;
        if (level == SimdLevel.Vector512)
        {
            var m = Vector512.Create(max);
            var acc = Vector512<float>.Zero;
            for (; i < body; i += 16)
            {
                var e = VectorMath.Exp(Vector512.Load(x + i) - m);
                if (TSink.Stores) e.Store(x + i);
                acc += e;
            }
            sum = Fold(acc.GetLower() + acc.GetUpper());
        }
        else if (level == SimdLevel.Vector256)
        {
            var m = Vector256.Create(max);
            Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
            for (; i < body; i += 16)
            {
                var e0 = VectorMath.Exp(Vector256.Load(x + i) - m);
                var e1 = VectorMath.Exp(Vector256.Load(x + i + 8) - m);
                if (TSink.Stores) { e0.Store(x + i); e1.Store(x + i + 8); }
                acc0 += e0;
                acc1 += e1;
            }
            sum = Fold(acc0 + acc1);
        }
        else
        {
            float* lanes = stackalloc float[Lanes];
            for (int k = 0; k < Lanes; k++) lanes[k] = 0;
            for (; i < body; i += Lanes)
                for (int k = 0; k < Lanes; k++)
                {
                    float e = VectorMath.Exp(x[i + k] - max);
                    if (TSink.Stores) x[i + k] = e;
                    lanes[k] += e;
                }
            for (int k = 0; k < 8; k++) lanes[k] += lanes[k + 8];
            for (int k = 0; k < 4; k++) lanes[k] += lanes[k + 4];
            sum = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        }
        for (; i < n; i++)
        {
            float e = VectorMath.Exp(x[i] - max);
            if (TSink.Stores) x[i] = e;
            sum += e;
        }
        return sum;
    }

    /// <summary>Lanes k and k + 8 already added: k + 4 next, then (0 + 2) + (1 + 3).</summary>
    static float Fold(Vector256<float> eight)
    {
        var four = eight.GetLower() + eight.GetUpper();
        return (four[0] + four[2]) + (four[1] + four[3]);
    }

    static void Scale(float* x, int n, float factor, SimdLevel level)
    {
        int i = 0;
        if (level == SimdLevel.Vector512)
        {
            var f = Vector512.Create(factor);
            for (; i + 16 <= n; i += 16) (Vector512.Load(x + i) * f).Store(x + i);
        }
        else if (level == SimdLevel.Vector256)
        {
            var f = Vector256.Create(factor);
            for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * f).Store(x + i);
        }
        for (; i < n; i++) x[i] *= factor;
    }
}
