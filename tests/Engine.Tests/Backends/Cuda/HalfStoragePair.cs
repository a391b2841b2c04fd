using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Backends.Mixed;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// A CPU and a GPU under one mixed precision, side by side, for tests of ops on 16-bit storage: the CPU stages every
/// op through fp32 (the reference: the fp32 op on the 16-bit values, outputs rounded once), the GPU hands them to its
/// 16-bit kernels. Both sides get the same values; the GPU's outputs can be poisoned first.
/// </summary>
sealed class HalfStoragePair : IDisposable
{
    /// <summary>A NaN in both 16-bit formats that no kernel writes (CUDA's canonical NaN is 0x7FFF).</summary>
    public const ushort HalfPoison = 0xFFFF;

    public readonly MixedPrecisionBackend Cpu, Gpu;
    public readonly CudaBackend Device;
    public readonly HalfFormat Format;
    public readonly StorageFormat Storage;
    public readonly Random Rng;

    public HalfStoragePair(HalfFormat format, int seed)
    {
        Engine.Tests.Support.Gpu.Require(); // (the field Gpu below is the GPU's mixed-precision backend)
        Format = format;
        Storage = HalfStorage.StorageOf(format);
        var precision = format == HalfFormat.Bf16 ? PrecisionMode.Bf16 : PrecisionMode.Fp16;
        Cpu = new MixedPrecisionBackend(new CpuBackend(), precision);
        Device = new CudaBackend(halfMatmulOperands: format); // made for this precision, as BackendFactory makes it
        Gpu = new MixedPrecisionBackend(Device, precision);
        Rng = new Random(seed);
    }

    public float[] RandomArray(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((Rng.NextDouble() * 2 - 1) * scale)).ToArray();

    /// <summary>Values in 16-bit storage on both sides (rounded on the way in).</summary>
    public (Slice<float> C, Slice<float> G) Stored(float[] values)
    {
        var c = HalfStorage.Allocate(Cpu, values.Length, Storage, "test"); Cpu.CopyIn<float>(values, c);
        var g = HalfStorage.Allocate(Gpu, values.Length, Storage, "test"); Gpu.CopyIn<float>(values, g);
        return (c, g);
    }

    /// <summary>A 16-bit output: zero on the CPU, poison on the GPU, so an element a kernel does not write fails.</summary>
    public (Slice<float> C, Slice<float> G) Poisoned(int n)
    {
        var pair = Stored(new float[n]);
        Device.CopyIn<ushort>(Enumerable.Repeat(HalfPoison, n).ToArray(), HalfStorage.Bits(pair.G));
        return pair;
    }

    /// <summary>Values in fp32 storage on both sides (statistics, the weights' gradients, FSDP's rounded weights).</summary>
    public (Slice<float> C, Slice<float> G) Fp32(float[] values)
    {
        var c = Cpu.Allocate<float>(values.Length, "test"); Cpu.CopyIn<float>(values, c);
        var g = Gpu.Allocate<float>(values.Length, "test"); Gpu.CopyIn<float>(values, g);
        return (c, g);
    }

    public (Slice<int> C, Slice<int> G) Ints(int[] values)
    {
        var c = Cpu.Allocate<int>(values.Length, "test"); Cpu.CopyIn<int>(values, c);
        var g = Gpu.Allocate<int>(values.Length, "test"); Gpu.CopyIn<int>(values, g);
        return (c, g);
    }

    public (float[] Cpu, float[] Gpu) Read((Slice<float> C, Slice<float> G) pair)
    {
        var c = new float[pair.C.Length]; Cpu.CopyOut(pair.C, c);
        var g = new float[pair.G.Length]; Gpu.CopyOut(pair.G, g);
        return (c, g);
    }

    /// <summary>One unit in the last place of a 16-bit value of magnitude |v| (subnormals: the smallest step).</summary>
    public double Ulp(double v)
    {
        int mantissaBits = Format == HalfFormat.Bf16 ? 7 : 10, minExponent = Format == HalfFormat.Bf16 ? -126 : -14;
        int exponent = v == 0 ? minExponent : Math.Max(Math.ILogB(Math.Abs(v)), minExponent);
        return Math.Pow(2, exponent - mantissaBits);
    }

    /// <summary>
    /// A 16-bit output: both sides compute in fp32 and round once, so they may differ by the fp32 difference
    /// (<paramref name="fp32Tolerance"/> of the largest magnitude: summation order) and, where that difference straddles
    /// a rounding boundary, one 16-bit ulp of the element. A wrong or missing term moves an element by far more.
    /// </summary>
    public void AssertHalfClose((Slice<float> C, Slice<float> G) pair, string what, double fp32Tolerance = 1e-5)
    {
        var (cpu, gpu) = Read(pair);
        double scale = cpu.Max(v => Math.Abs((double)v));
        for (int i = 0; i < cpu.Length; i++)
        {
            double error = Math.Abs((double)gpu[i] - cpu[i]);
            double bound = Ulp(Math.Max(Math.Abs(cpu[i]), Math.Abs(gpu[i]))) + fp32Tolerance * scale;
            if (!(error <= bound))
                Assert.Fail($"{what}[{i}]: GPU {gpu[i]:R}, CPU {cpu[i]:R} (|err| {error:E2} > {bound:E2}: one {Format} ulp + {fp32Tolerance:E0}·{scale:G4})");
        }
    }

    /// <summary>An fp32 output: <paramref name="tolerance"/> of the largest magnitude.</summary>
    public void AssertClose((Slice<float> C, Slice<float> G) pair, string what, double tolerance = 1e-5)
    {
        var (cpu, gpu) = Read(pair);
        double scale = cpu.Max(v => Math.Abs((double)v));
        for (int i = 0; i < cpu.Length; i++)
        {
            double error = Math.Abs((double)gpu[i] - cpu[i]);
            if (!(error <= tolerance * Math.Max(scale, 1e-30)))
                Assert.Fail($"{what}[{i}]: GPU {gpu[i]:R}, CPU {cpu[i]:R} (|err| {error:E2} > {tolerance:E0}·{scale:G4})");
        }
    }

    /// <summary>Every op so far ran on the GPU's 16-bit kernels: none was staged through fp32.</summary>
    public void AssertNothingStaged() => Assert.Equal(0, Gpu.StagedOps);

    public void Dispose() { Gpu.Dispose(); Cpu.Dispose(); }
}
