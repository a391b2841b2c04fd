using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 AdamW for the CPU backend: the reference <see cref="AdamW{T}"/>'s formula in the same float64 operations
/// in the same order, vectorised (8 or 4 float64 lanes per vector; <see cref="Simd"/>), so every parameter, moment
/// and 16-bit copy gets exactly the bits <c>AdamW&lt;float&gt;</c> gives it (CpuAdamWTests asserts bit equality).
/// Fixed chunks of <see cref="Chunk"/> elements go to the threads.
/// </summary>
public static unsafe class CpuAdamW
{
    /// <summary>Elements per task: 4 × 64 KiB streamed, long enough for a thread hand-off to pay.</summary>
    const int Chunk = 16384;

    public static void Step(float* parameters, float* gradients, float* m, float* v, long count, double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        var update = new Constants(lr, beta1, beta2, epsilon, weightDecay, step);
        var level = Simd.Active;
        ParallelRows.ForChunks(count, (start, end) => UpdateRange(parameters + start, gradients + start, m + start, v + start, end - start, update, level), Chunk);
    }

    /// <summary>The step on the fp32 master weights, then each chunk's new values rounded into the 16-bit copy.</summary>
    public static void StepMixed(float* master, ushort* halfCopy, HalfFormat format, float* gradients, float* m, float* v, long count, double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        var update = new Constants(lr, beta1, beta2, epsilon, weightDecay, step);
        var level = Simd.Active;
        ParallelRows.ForChunks(count, (start, end) =>
        {
            UpdateRange(master + start, gradients + start, m + start, v + start, end - start, update, level);
            HalfCast.ToHalf(halfCopy + start, master + start, end - start, format); // one chunk: runs on this thread
        }, Chunk);
    }

    /// <summary>The per-step constants, computed as <see cref="AdamW{T}"/> computes them.</summary>
    readonly struct Constants(double lr, double beta1, double beta2, double epsilon, double weightDecay, int step)
    {
        public readonly double Decay = 1 - lr * weightDecay;
        public readonly double Beta1 = beta1, OneMinusBeta1 = 1 - beta1, Beta2 = beta2, OneMinusBeta2 = 1 - beta2, Epsilon = epsilon;
        public readonly double StepSize = lr / (1 - Math.Pow(beta1, step));
        public readonly double Bias2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void UpdateRange(float* p, float* g, float* m, float* v, long n, Constants c, SimdLevel level)
    {
        long i = 0;
        if (level == SimdLevel.Vector512)
            for (; i + 16 <= n; i += 16)
            {
                var (g0, g1) = Vector512.Widen(Vector512.Load(g + i));
                var (p0, p1) = Vector512.Widen(Vector512.Load(p + i));
                var (m0, m1) = Vector512.Widen(Vector512.Load(m + i));
                var (v0, v1) = Vector512.Widen(Vector512.Load(v + i));
                Apply(ref p0, g0, ref m0, ref v0, c);
                Apply(ref p1, g1, ref m1, ref v1, c);
                Vector512.Store(Vector512.Narrow(p0, p1), p + i);
                Vector512.Store(Vector512.Narrow(m0, m1), m + i);
                Vector512.Store(Vector512.Narrow(v0, v1), v + i);
            }
        if (level >= SimdLevel.Vector256)
            for (; i + 8 <= n; i += 8)
            {
                var (g0, g1) = Vector256.Widen(Vector256.Load(g + i));
                var (p0, p1) = Vector256.Widen(Vector256.Load(p + i));
                var (m0, m1) = Vector256.Widen(Vector256.Load(m + i));
                var (v0, v1) = Vector256.Widen(Vector256.Load(v + i));
                Apply(ref p0, g0, ref m0, ref v0, c);
                Apply(ref p1, g1, ref m1, ref v1, c);
                Vector256.Store(Vector256.Narrow(p0, p1), p + i);
                Vector256.Store(Vector256.Narrow(m0, m1), m + i);
                Vector256.Store(Vector256.Narrow(v0, v1), v + i);
            }
        for (; i < n; i++)
        {
            double gi = g[i], pi = p[i] * c.Decay;
            double mi = c.Beta1 * m[i] + c.OneMinusBeta1 * gi;
            double vi = c.Beta2 * v[i] + c.OneMinusBeta2 * gi * gi;
            m[i] = (float)mi;
            v[i] = (float)vi;
            p[i] = (float)(pi - c.StepSize * mi / (Math.Sqrt(vi) / c.Bias2Sqrt + c.Epsilon));
        }
    }

    // The reference's expression tree, lane-wise: same operations, same order, so the same bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Apply(ref Vector512<double> p, Vector512<double> g, ref Vector512<double> m, ref Vector512<double> v, Constants c)
    {
        var pd = p * Vector512.Create(c.Decay);
        m = Vector512.Create(c.Beta1) * m + Vector512.Create(c.OneMinusBeta1) * g;
        v = Vector512.Create(c.Beta2) * v + Vector512.Create(c.OneMinusBeta2) * g * g;
        p = pd - Vector512.Create(c.StepSize) * m / (Vector512.Sqrt(v) / Vector512.Create(c.Bias2Sqrt) + Vector512.Create(c.Epsilon));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Apply(ref Vector256<double> p, Vector256<double> g, ref Vector256<double> m, ref Vector256<double> v, Constants c)
    {
        var pd = p * Vector256.Create(c.Decay);
        m = Vector256.Create(c.Beta1) * m + Vector256.Create(c.OneMinusBeta1) * g;
        v = Vector256.Create(c.Beta2) * v + Vector256.Create(c.OneMinusBeta2) * g * g;
        p = pd - Vector256.Create(c.StepSize) * m / (Vector256.Sqrt(v) / Vector256.Create(c.Bias2Sqrt) + Vector256.Create(c.Epsilon));
    }
}
