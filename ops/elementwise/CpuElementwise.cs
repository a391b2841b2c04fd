using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 residual add, accumulate, scale and Σx² for the CPU backend, same contracts as
/// <see cref="Elementwise{T}"/>. Vectorised (<see cref="Simd"/>); fixed chunks of <see cref="Chunk"/> elements go to
/// the threads only when there are at least two of them (one chunk's work is below a thread hand-off's cost).
/// </summary>
public static unsafe class CpuElementwise
{
    /// <summary>Elements per task (256 KiB of float32): long enough that handing it to a thread pays.</summary>
    internal const int Chunk = 65536;

    public static void Add(float* output, float* a, float* b, long count)
    {
        var level = Simd.Active;
        ParallelRows.ForChunks(count, (start, end) => AddRange(output + start, a + start, b + start, end - start, level), Chunk);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddRange(float* o, float* a, float* b, long n, SimdLevel level)
    {
        long i = 0;
        if (level == SimdLevel.Vector512)
            for (; i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(a + i) + Vector512.Load(b + i), o + i);
        if (level >= SimdLevel.Vector256)
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(a + i) + Vector256.Load(b + i), o + i);
        for (; i < n; i++) o[i] = a[i] + b[i];
    }

    public static void Accumulate(float* destination, float* source, long count)
    {
        var level = Simd.Active;
        ParallelRows.ForChunks(count, (start, end) => AddRange(destination + start, destination + start, source + start, end - start, level), Chunk);
    }

    public static void Scale(float* x, long count, float factor)
    {
        var level = Simd.Active;
        ParallelRows.ForChunks(count, (start, end) => ScaleRange(x + start, end - start, factor, level), Chunk);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScaleRange(float* p, long n, float factor, SimdLevel level)
    {
        long i = 0;
        if (level == SimdLevel.Vector512)
            for (var f = Vector512.Create(factor); i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(p + i) * f, p + i);
        if (level >= SimdLevel.Vector256)
            for (var f = Vector256.Create(factor); i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(p + i) * f, p + i);
        for (; i < n; i++) p[i] *= factor;
    }

    /// <summary>
    /// Σx² in float64. Deterministic for any thread count and any <see cref="SimdLevel"/>: each fixed chunk of
    /// <see cref="Chunk"/> elements is summed into 16 float64 lanes (element i into lane i mod 16, in index order),
    /// the lanes are added in order, and the chunk sums are added in chunk order.
    /// </summary>
    public static double SumOfSquares(float* x, long count)
    {
        var level = Simd.Active;
        int chunks = checked((int)((count + Chunk - 1) / Chunk));
        var partial = new double[chunks];
        ParallelRows.For(chunks, k =>
        {
            long start = (long)k * Chunk;
            partial[k] = ChunkSumOfSquares(x + start, Math.Min(Chunk, count - start), level);
        });
        double total = 0;
        foreach (double p in partial) total += p;
        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double ChunkSumOfSquares(float* x, long n, SimdLevel level)
    {
        long i = 0;
        double* lanes = stackalloc double[16];
        for (int l = 0; l < 16; l++) lanes[l] = 0;
        if (level == SimdLevel.Vector512)
        {
            Vector512<double> low = Vector512<double>.Zero, high = Vector512<double>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var (a, b) = Vector512.Widen(Vector512.Load(x + i));
                low += a * a;
                high += b * b;
            }
            low.Store(lanes);
            high.Store(lanes + 8);
        }
        else if (level == SimdLevel.Vector256)
        {
            Vector256<double> l0 = Vector256<double>.Zero, l1 = Vector256<double>.Zero, l2 = Vector256<double>.Zero, l3 = Vector256<double>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var (a, b) = Vector256.Widen(Vector256.Load(x + i));
                var (c, d) = Vector256.Widen(Vector256.Load(x + i + 8));
                l0 += a * a; l1 += b * b; l2 += c * c; l3 += d * d;
            }
            l0.Store(lanes); l1.Store(lanes + 4); l2.Store(lanes + 8); l3.Store(lanes + 12);
        }
        else
            for (; i + 16 <= n; i += 16)
                for (int l = 0; l < 16; l++) { double v = x[i + l]; lanes[l] += v * v; }
        for (int l = 0; i < n; i++, l++) { double v = x[i]; lanes[l] += v * v; }
        double sum = 0;
        for (int l = 0; l < 16; l++) sum += lanes[l];
        return sum;
    }
}
