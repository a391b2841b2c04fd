using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// A CPU and a GPU backend side by side, for the tests of each CUDA op against its CPU twin (ops/FAMILY/tests/*GpuTests):
/// both get the same fresh random inputs, the outputs are poisoned with NaN before the call so an element the kernel
/// forgets fails. Tolerance (fp32 both sides): 1e-5 of the output's largest magnitude; the two sides differ only in
/// summation order (float64 or float32 on the CPU, warp trees on the GPU), a few ulps over sums of ≤ 100 terms, while a
/// wrong or missing term moves an element by ≥ 1e-3 of the scale. The tests import its statics (<c>using static</c>):
/// <see cref="Open"/>, <see cref="None"/>, the poisons and <c>AssertClose</c> of outputs already read back.
/// </summary>
sealed class CpuGpuPair : IDisposable
{
    const double Tolerance = 1e-5;

    /// <summary>A NaN in both 16-bit formats that no cast writes (CUDA's NaN is 0x7FFF).</summary>
    public const ushort HalfPoison = 0xFFFF;
    /// <summary>A NaN no half-to-float cast writes (they shift or widen the payload).</summary>
    public const uint FloatPoison = 0xFFFFFFFF;

    /// <summary>An absent optional tensor (no bias, no input gradient) on both sides.</summary>
    public static readonly (Slice<float> C, Slice<float> G) None = (Slice<float>.Empty, Slice<float>.Empty);

    public readonly CpuBackend Cpu = new();
    public readonly CudaBackend Gpu;
    public readonly Random Rng;

    /// <param name="halfMatmulOperands">The 16-bit operand format the GPU is made for (mixed precision's matrix products).</param>
    CpuGpuPair(int seed, HalfFormat? halfMatmulOperands)
    {
        Gpu = new CudaBackend(halfMatmulOperands: halfMatmulOperands);
        Rng = new Random(seed);
    }

    /// <summary>The pair, or a skip ("no CUDA device") where there is no GPU.</summary>
    public static CpuGpuPair Open(int seed, HalfFormat? halfMatmulOperands = null)
    {
        Engine.Tests.Support.Gpu.Require(); // (the field Gpu is the GPU's backend)
        return new CpuGpuPair(seed, halfMatmulOperands);
    }

    public float[] RandomArray(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((Rng.NextDouble() * 2 - 1) * scale)).ToArray();

    public (Slice<T> C, Slice<T> G) Upload<T>(T[] data) where T : unmanaged
    {
        var c = Cpu.Allocate<T>(data.Length, "test"); Cpu.CopyIn<T>(data, c);
        var g = Gpu.Allocate<T>(data.Length, "test"); Gpu.CopyIn<T>(data, g);
        return (c, g);
    }

    public (T[] Cpu, T[] Gpu) Download<T>((Slice<T> C, Slice<T> G) pair) where T : unmanaged
    {
        var c = new T[pair.C.Length]; Cpu.CopyOut(pair.C, c);
        var g = new T[pair.G.Length]; Gpu.CopyOut(pair.G, g);
        return (c, g);
    }

    public (Slice<float> C, Slice<float> G) Poisoned(int n) => Upload(Enumerable.Repeat(float.NaN, n).ToArray());

    /// <summary>An output on both sides: <paramref name="tolerance"/> of the CPU's largest magnitude.</summary>
    public void AssertClose((Slice<float> C, Slice<float> G) pair, string what, double tolerance = Tolerance) =>
        AssertClose(Download(pair), what, tolerance);

    /// <summary>Outputs already read back: <paramref name="tolerance"/> of the CPU's largest magnitude.</summary>
    public static void AssertClose((float[] Cpu, float[] Gpu) pair, string what, double tolerance = Tolerance)
    {
        double scale = pair.Cpu.Max(v => Math.Abs((double)v));
        for (int i = 0; i < pair.Cpu.Length; i++)
        {
            double error = Math.Abs((double)pair.Gpu[i] - pair.Cpu[i]);
            if (!(error <= tolerance * Math.Max(scale, 1e-30)))
                Assert.Fail($"{what}[{i}]: GPU {pair.Gpu[i]:R}, CPU {pair.Cpu[i]:R} (|err| {error:E2} > {tolerance:E0}·{scale:G4})");
        }
    }

    public void Dispose() { Gpu.Dispose(); Cpu.Dispose(); }
}
