using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Backends.Cpu.Kernels.Gemm;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 matmul for a linear layer on native memory: forward <c>out = inp · Wᵀ + b</c> and its backward.
/// Layout is row-major; the weight is stored (OC, C) like PyTorch's nn.Linear. Pointers need no alignment.
/// </summary>
/// <remarks>
/// All three products go through one blocked GEMM (<see cref="GemmDriver"/>) with register-blocked
/// micro-kernels (Vector512 8×32, Vector256 6×16, scalar 4×8).
/// <para>Determinism: work is split statically over output elements; each output element is produced by one
/// task with a fixed summation order (K-slices of <see cref="GemmDriver.KC"/> in ascending order, each a
/// fused-multiply-add chain). Results are bit-identical run to run, for any <see cref="MaxThreads"/>, and across
/// <see cref="MatmulIsa"/> choices.</para>
/// <para>Accuracy: float32 accumulation with FMA in a two-level sum (chains of ≤ 256 terms). Measured against a
/// float64 reference on uniform random inputs, C = 1024: max|err|/max|ref| ≤ 4e-7 and ‖err‖/‖ref‖ ≤ 3e-7 for
/// out, dinput, dweight and dbias (CpuMatmulAccuracyTests asserts ≤ 1e-6).</para>
/// <para>Parallelism: Parallel.For over a static grid of output tiles (Gemm.TilePlan), at most
/// <see cref="ActiveThreads"/> workers; dbias is split over column chunks.</para>
/// </remarks>
public static unsafe class CpuMatmul
{
    private static int s_maxThreads;
    // Per-thread overrides for tests: they never leak into code running concurrently on other threads.
    [ThreadStatic] private static MatmulIsa t_isaOverride;
    [ThreadStatic] private static int t_threadsOverride;

    /// <summary>Upper bound on worker threads; 0 (default) means <see cref="Environment.ProcessorCount"/>.
    /// Has no effect on results, only on speed.</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set => s_maxThreads = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    /// <summary>Forces a kernel family (debugging, benchmarks). <see cref="MatmulIsa.Auto"/> picks the best one.
    /// Has no effect on results, only on speed.</summary>
    public static MatmulIsa Isa { get; set; } = MatmulIsa.Auto;

    /// <summary>The kernel family that calls from this thread use now (resolves <see cref="MatmulIsa.Auto"/>).</summary>
    public static MatmulIsa ActiveIsa
    {
        get
        {
            MatmulIsa isa = t_isaOverride != MatmulIsa.Auto ? t_isaOverride : Isa;
            if (isa != MatmulIsa.Auto) return isa;
            if (Vector512.IsHardwareAccelerated) return MatmulIsa.Vector512;
            if (Vector256.IsHardwareAccelerated && Fma.IsSupported) return MatmulIsa.Vector256;
            return MatmulIsa.Scalar;
        }
    }

    /// <summary>Worker threads that calls from this thread use now.</summary>
    public static int ActiveThreads =>
        t_threadsOverride > 0 ? t_threadsOverride : s_maxThreads > 0 ? s_maxThreads : Environment.ProcessorCount;

    /// <summary>Overrides ISA and thread count for calls made from the current thread until disposed (tests).</summary>
    internal static IDisposable OverrideForCurrentThread(MatmulIsa isa, int maxThreads)
    {
        var restore = new Restore(t_isaOverride, t_threadsOverride);
        t_isaOverride = isa;
        t_threadsOverride = maxThreads;
        return restore;
    }

    private sealed class Restore(MatmulIsa isa, int threads) : IDisposable
    {
        public void Dispose() { t_isaOverride = isa; t_threadsOverride = threads; }
    }

    /// <summary>
    /// <c>output[N,OC] = input[N,C] · weight[OC,C]ᵀ + bias[OC]</c> (bias null = none). Overwrites every element
    /// of output; output must not overlap the inputs.
    /// </summary>
    public static void Forward(float* output, float* input, float* weight, float* bias, int N, int C, int OC)
    {
        CheckDims(N, C, OC);
        if (N == 0 || OC == 0) return;
        if (output == null || (C > 0 && (input == null || weight == null))) throw new ArgumentNullException(nameof(output), "null tensor");
        // A = input (N×C, rows contiguous: read in place); B(k=c, j=oc) = weight[oc, c].
        Gemm(N, OC, C, new StridedMatrix(input, C, 1), new StridedMatrix(weight, 1, C), output, OC, overwrite: true, bias);
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>, accumulating (+=) into the gradients so micro-batch accumulation and
    /// residual branches work:
    /// <c>dinput[N,C] += dout[N,OC] · weight[OC,C]</c> (skipped when dinput is null; <c>=</c> when
    /// <paramref name="dinputWrite"/> is <see cref="GradientWrite.Overwrite"/>: the GEMM's first
    /// K-slice then stores instead of adding, the same sums as zeroing dinput first),
    /// <c>dweight[OC,C] += dout[N,OC]ᵀ · input[N,C]</c>,
    /// <c>dbias[OC] += Σₙ dout[n,OC]</c> (skipped when dbias is null).
    /// </summary>
    public static void Backward(float* dinput, float* dweight, float* dbias, float* dout, float* input, float* weight, int N, int C, int OC,
        GradientWrite dinputWrite)
    {
        CheckDims(N, C, OC);
        if (N == 0 || C == 0 && OC == 0) return;
        if (dout == null || dweight == null || input == null || weight == null) throw new ArgumentNullException(nameof(dout), "null tensor");
        if (dinput != null)
        {
            // A = dout (N×OC, read in place); B = weight (k=oc, j=c), rows contiguous.
            Gemm(N, C, OC, new StridedMatrix(dout, OC, 1), new StridedMatrix(weight, C, 1), dinput, C,
                overwrite: dinputWrite == GradientWrite.Overwrite, null);
        }
        // A(i=oc, k=n) = dout[n, oc] (columns contiguous: packed); B = input (k=n, j=c).
        Gemm(OC, C, N, new StridedMatrix(dout, 1, OC), new StridedMatrix(input, C, 1), dweight, C, overwrite: false, null);
        if (dbias != null)
            ColumnSum.AccumulateInto(dbias, dout, N, OC, ActiveThreads);
    }

    private static void Gemm(int m, int n, int k, StridedMatrix a, StridedMatrix b, float* c, nint ldc, bool overwrite, float* bias)
    {
        int threads = ActiveThreads;
        switch (ActiveIsa)
        {
            case MatmulIsa.Vector512: GemmDriver.Run<MicroKernel512>(m, n, k, a, b, c, ldc, overwrite, bias, threads); break;
            case MatmulIsa.Vector256: GemmDriver.Run<MicroKernel256>(m, n, k, a, b, c, ldc, overwrite, bias, threads); break;
            default: GemmDriver.Run<MicroKernelScalar>(m, n, k, a, b, c, ldc, overwrite, bias, threads); break;
        }
    }

    private static void CheckDims(int n, int c, int oc)
    {
        if (n < 0 || c < 0 || oc < 0) throw new ArgumentOutOfRangeException(nameof(n), $"negative dimension N={n} C={c} OC={oc}");
    }
}
