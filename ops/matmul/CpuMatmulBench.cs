using System.Diagnostics;
using System.Runtime.InteropServices;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>Throughput of <see cref="CpuMatmul"/> for one shape (GFLOP/s from the median and the best run).</summary>
/// <param name="ForwardGflops">2·N·C·OC / median forward time.</param>
/// <param name="BackwardGflops">4·N·C·OC (dinput + dweight; dbias is not counted) / median backward time.</param>
public readonly record struct BenchResult(
    int N, int C, int OC, MatmulIsa Isa, int Threads, int Repeats,
    double ForwardGflops, double BackwardGflops,
    double ForwardBestGflops, double BackwardBestGflops,
    double ForwardMedianMs, double BackwardMedianMs)
{
    public override string ToString() =>
        $"matmul N={N} C={C} OC={OC} [{Isa}, {Threads} thr]: forward {ForwardGflops:F1} GFLOP/s ({ForwardMedianMs:F2} ms, best {ForwardBestGflops:F1}), " +
        $"backward {BackwardGflops:F1} GFLOP/s ({BackwardMedianMs:F2} ms, best {BackwardBestGflops:F1})";
}

public static unsafe class CpuMatmulBench
{
    /// <summary>
    /// Times <see cref="CpuMatmul.Forward"/> (with bias) and <see cref="CpuMatmul.Backward"/> (dinput overwritten, as the layers do; dweight,
    /// dbias) on random data, after one warm-up call each (JIT, page faults, scratch buffers).
    /// </summary>
    public static BenchResult Bench(int N, int C, int OC, int repeats)
    {
        if (N <= 0 || C <= 0 || OC <= 0) throw new ArgumentOutOfRangeException(nameof(N), "dimensions must be positive");
        repeats = Math.Max(1, repeats);
        float* inp = Alloc((long)N * C), w = Alloc((long)OC * C), b = Alloc(OC), outp = Alloc((long)N * OC);
        float* dinp = Alloc((long)N * C), dw = Alloc((long)OC * C), db = Alloc(OC), dout = Alloc((long)N * OC);
        try
        {
            var rng = new Random(1234);
            Fill(rng, inp, (long)N * C); Fill(rng, w, (long)OC * C); Fill(rng, b, OC); Fill(rng, dout, (long)N * OC);
            new Span<float>(dinp, N * C).Clear(); new Span<float>(dw, OC * C).Clear(); new Span<float>(db, OC).Clear();

            var fwd = new double[repeats];
            var bwd = new double[repeats];
            CpuMatmul.Forward(outp, inp, w, b, N, C, OC);
            CpuMatmul.Backward(dinp, dw, db, dout, inp, w, N, C, OC, GradientWrite.Overwrite);
            for (int r = 0; r < repeats; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                CpuMatmul.Forward(outp, inp, w, b, N, C, OC);
                long t1 = Stopwatch.GetTimestamp();
                CpuMatmul.Backward(dinp, dw, db, dout, inp, w, N, C, OC, GradientWrite.Overwrite);
                long t2 = Stopwatch.GetTimestamp();
                fwd[r] = Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
                bwd[r] = Stopwatch.GetElapsedTime(t1, t2).TotalSeconds;
            }
            Array.Sort(fwd); Array.Sort(bwd);
            double flops = 2.0 * N * C * OC;
            double fMed = fwd[repeats / 2], bMed = bwd[repeats / 2];
            return new BenchResult(N, C, OC, CpuMatmul.ActiveIsa, CpuMatmul.ActiveThreads, repeats,
                flops / fMed * 1e-9, 2 * flops / bMed * 1e-9, flops / fwd[0] * 1e-9, 2 * flops / bwd[0] * 1e-9,
                fMed * 1e3, bMed * 1e3);
        }
        finally
        {
            foreach (var p in new[] { (nint)inp, (nint)w, (nint)b, (nint)outp, (nint)dinp, (nint)dw, (nint)db, (nint)dout })
                NativeMemory.AlignedFree((void*)p);
        }
    }

    private static float* Alloc(long floats) => (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);

    private static void Fill(Random rng, float* p, long n)
    {
        for (long i = 0; i < n; i++) p[i] = (float)(rng.NextDouble() * 2 - 1);
    }
}
