using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Precision;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The mixed-precision kernels (ops/precision/precision.cu, adamw_mixed_* in optimizer.cu) against their CPU twins on
/// fresh random inputs of odd sizes, outputs poisoned before the call. Tolerances: casts and unscaling are exact
/// (both sides round once, to nearest even, or multiply once by the same float), so bits must match; a NaN only
/// has to stay a NaN (CUDA writes its canonical NaN) and must not be the poison, so an unwritten element still
/// fails. AdamW's fp32 state is held to the fp32 AdamW test's 1e-5 (the CPU computes in double, the GPU in
/// float); its 16-bit copy must be exactly the cast of the GPU's own master weights, and those must be the bits of
/// the GPU's fp32 AdamW. Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class CudaMixedPrecisionTests
{
    const ushort HalfPoison = 0xFFFF;     // a NaN in both formats that no cast writes (CUDA's NaN is 0x7FFF)
    const uint FloatPoison = 0xFFFFFFFF;  // a NaN no half-to-float cast writes (they shift or widen the payload)

    sealed class Pair : IDisposable
    {
        public readonly CpuBackend Cpu = new();
        public readonly CudaBackend Gpu;
        public readonly Random Rng;
        /// <param name="halfMatmulOperands">The 16-bit operand format the GPU is made for (mixed precision's matrix products).</param>
        public Pair(int seed, HalfFormat? halfMatmulOperands = null)
        {
            Gpu = new CudaBackend(halfMatmulOperands: halfMatmulOperands);
            Rng = new Random(seed);
        }

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

        public float[] RandomArray(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((Rng.NextDouble() * 2 - 1) * scale)).ToArray();

        /// <summary>Every kind of value a cast must handle, shuffled: all exponents, fp16's range, ties, specials.</summary>
        public float[] CastInputs(int n)
        {
            var x = HalfReference.RandomFloats(Rng, n);
            for (int i = 0; i < n; i += 3) x[i] = (float)((Rng.NextDouble() * 2 - 1) * Math.Pow(2, Rng.Next(-26, 18)));
            for (int i = 1; i < n; i += 7) // exact bf16 ties: a kept bit pattern plus half its last place
                x[i] = BitConverter.UInt32BitsToSingle(((uint)Rng.Next() & 0xFFFF0000u) | 0x8000u);
            for (int i = 2; i < n; i += 11) // exact fp16 ties, normal ((1024 + k + ½)·2^(e−10)) and subnormal ((k + ½)·2^-24)
                x[i] = i % 2 == 0 ? (float)((1024 + Rng.Next(1024) + 0.5) * Math.Pow(2, Rng.Next(-14, 16) - 10))
                                  : (float)((Rng.Next(1024) + 0.5) * Math.Pow(2, -24));
            float[] specials = [float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001), float.PositiveInfinity, float.NegativeInfinity,
                                0f, -0f, 65520f, -65520f, 65504f, 1e-45f, MathF.Pow(2, -25), 1.5f * MathF.Pow(2, -24), float.MaxValue];
            for (int i = 0; i < specials.Length && i < n; i++) x[Rng.Next(n)] = specials[i];
            return x;
        }

        public void Dispose() { Gpu.Dispose(); Cpu.Dispose(); }
    }

    static Pair Open(int seed, HalfFormat? halfMatmulOperands = null)
    {
        Gpu.Require();
        return new Pair(seed, halfMatmulOperands);
    }

    [Theory]
    [InlineData(HalfFormat.Bf16, 37)]
    [InlineData(HalfFormat.Bf16, 100_003)]
    [InlineData(HalfFormat.Fp16, 37)]
    [InlineData(HalfFormat.Fp16, 100_003)]
    public void Casts_match_the_CPU_bit_for_bit(HalfFormat format, int n)
    {
        using var p = Open(n + (int)format);
        var x = p.Upload(p.CastInputs(n));
        var half = p.Upload(Enumerable.Repeat(HalfPoison, n).ToArray());
        p.Cpu.CastToHalf(half.C, x.C, format);
        p.Gpu.CastToHalf(half.G, x.G, format);
        var (expected, actual) = p.Download(half);
        for (int i = 0; i < n; i++)
        {
            bool expectNaN = float.IsNaN(HalfFormats.ToFloat(format, expected[i]));
            bool ok = expectNaN ? actual[i] != HalfPoison && float.IsNaN(HalfFormats.ToFloat(format, actual[i])) : actual[i] == expected[i];
            if (!ok) Assert.Fail($"{format} cast [{i}] of 0x{BitConverter.SingleToUInt32Bits(p.Download(x).Cpu[i]):X8}: GPU 0x{actual[i]:X4}, CPU 0x{expected[i]:X4}");
        }

        // Back to fp32 from fresh random 16-bit patterns (every value of the format, NaNs included).
        var bits = p.Upload(Enumerable.Range(0, n).Select(_ => (ushort)p.Rng.Next(0x10000)).ToArray());
        var floats = p.Upload(Enumerable.Repeat(BitConverter.UInt32BitsToSingle(FloatPoison), n).ToArray());
        p.Cpu.CastFromHalf(floats.C, bits.C, format);
        p.Gpu.CastFromHalf(floats.G, bits.G, format);
        var (cpu, gpu) = p.Download(floats);
        for (int i = 0; i < n; i++)
        {
            uint c = BitConverter.SingleToUInt32Bits(cpu[i]), g = BitConverter.SingleToUInt32Bits(gpu[i]);
            bool ok = float.IsNaN(cpu[i]) ? g != FloatPoison && float.IsNaN(gpu[i]) : g == c;
            if (!ok) Assert.Fail($"{format} → fp32 [{i}]: GPU 0x{g:X8}, CPU 0x{c:X8}");
        }
    }

    /// <summary>
    /// Matrix products on 16-bit storage (mixed precision's activations and weight copy): cuBLAS reads and writes the
    /// 16-bit buffers itself, where the CPU stages them through fp32. The fp32 results agree to the products' 1e-5 of
    /// the largest output; a 16-bit output may then round to the neighbouring 16-bit value, so those are held to one
    /// ulp of the format on top (HalfStoragePair.AssertHalfClose). fp32 gradients (weight, bias) keep 1e-5.
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Matrix_products_read_and_write_16_bit_storage_as_the_CPU_stages_it(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 91 + (int)format);
        const int N = 37, C = 70, OC = 45;
        var x = p.Stored(p.RandomArray(N * C));
        var w = p.Stored(p.RandomArray(OC * C));
        var b = p.Stored(p.RandomArray(OC));
        var y = p.Poisoned(N * OC);
        p.Cpu.MatmulForward(y.C, x.C, w.C, b.C, N, C, OC);
        p.Gpu.MatmulForward(y.G, x.G, w.G, b.G, N, C, OC);
        p.AssertHalfClose(y, $"{format} matmul output");

        var dy = p.Stored(p.RandomArray(N * OC));
        var dx = p.Stored(p.RandomArray(N * C));
        var dw = p.Fp32(p.RandomArray(OC * C));
        var db = p.Fp32(p.RandomArray(OC));
        p.Cpu.MatmulBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, N, C, OC);
        p.Gpu.MatmulBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, N, C, OC);
        p.AssertHalfClose(dx, $"{format} matmul d input (16-bit, accumulated)");
        p.AssertClose(dw, $"{format} matmul d weight (fp32)");
        p.AssertClose(db, $"{format} matmul d bias (fp32)");
        p.AssertNothingStaged();
    }

    /// <summary>
    /// Mixed precision's matrix products: operands that are 16-bit values (as MixedPrecisionBackend keeps them) go
    /// to cuBLAS in 16 bits and are multiplied on tensor cores with fp32 accumulation. The casts are exact, so the
    /// result is the fp32 product of the same values up to summation order: held to the fp32 matmul test's 1e-5 of
    /// the largest output (tensor cores add in blocks, the CPU in one running sum).
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Matrix_products_on_16_bit_operands_equal_fp32_on_the_same_values(HalfFormat format)
    {
        using var p = Open(71 + (int)format, halfMatmulOperands: format);
        const int N = 37, C = 70, OC = 45;
        float[] Values(int n) { var a = p.RandomArray(n); StorageRounding.Round(a, format); return a; }
        var x = p.Upload(Values(N * C));
        var w = p.Upload(Values(OC * C));
        var b = p.Upload(Values(OC));
        var y = p.Upload(Enumerable.Repeat(BitConverter.UInt32BitsToSingle(FloatPoison), N * OC).ToArray());
        p.Cpu.MatmulForward(y.C, x.C, w.C, b.C, N, C, OC);
        p.Gpu.MatmulForward(y.G, x.G, w.G, b.G, N, C, OC);
        AssertClose(p.Download(y), $"{format} matmul output");

        var dy = p.Upload(Values(N * OC));
        var dx = p.Upload(p.RandomArray(N * C));
        var dw = p.Upload(p.RandomArray(OC * C));
        var db = p.Upload(p.RandomArray(OC));
        p.Cpu.MatmulBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, N, C, OC);
        p.Gpu.MatmulBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, N, C, OC);
        AssertClose(p.Download(dx), $"{format} matmul d input");
        AssertClose(p.Download(dw), $"{format} matmul d weight");
        AssertClose(p.Download(db), $"{format} matmul d bias");
    }

    [Theory]
    [InlineData(HalfFormat.Bf16, 100_003)]
    [InlineData(HalfFormat.Fp16, 4_099)]
    public void AdamW_mixed_matches_the_CPU_and_the_GPUs_fp32_AdamW(HalfFormat format, int n)
    {
        using var p = Open(n * 3 + (int)format);
        var p0 = p.RandomArray(n);
        var m0 = p.RandomArray(n, 0.1);
        var v0 = p.RandomArray(n, 0.1).Select(MathF.Abs).ToArray();
        var g = p.Upload(p.RandomArray(n));
        var master = p.Upload(p0);
        var m = p.Upload(m0);
        var v = p.Upload(v0);
        var copy = p.Upload(Enumerable.Repeat(HalfPoison, n).ToArray());
        p.Cpu.AdamWMixed(master.C, copy.C, format, g.C, m.C, v.C, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        p.Gpu.AdamWMixed(master.G, copy.G, format, g.G, m.G, v.G, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        AssertClose(p.Download(master), "master weights");
        AssertClose(p.Download(m), "first moment");
        AssertClose(p.Download(v), "second moment");

        var gpuMaster = p.Download(master).Gpu;
        var gpuCopy = p.Download(copy).Gpu;
        for (int i = 0; i < n; i++)
            if (gpuCopy[i] != HalfFormats.FromFloat(format, gpuMaster[i]))
                Assert.Fail($"copy[{i}]: GPU 0x{gpuCopy[i]:X4}, the cast of its master {gpuMaster[i]:R} is 0x{HalfFormats.FromFloat(format, gpuMaster[i]):X4}");

        // The GPU's fp32 AdamW on the same inputs: the same kernel arithmetic, so the same bits.
        var fp32 = p.Gpu.Allocate<float>(n, "fp32 params"); p.Gpu.CopyIn<float>(p0, fp32);
        var fm = p.Gpu.Allocate<float>(n, "m"); p.Gpu.CopyIn<float>(m0, fm);
        var fv = p.Gpu.Allocate<float>(n, "v"); p.Gpu.CopyIn<float>(v0, fv);
        p.Gpu.AdamW(fp32, g.G, fm, fv, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        var fp32Result = new float[n];
        p.Gpu.CopyOut(fp32, fp32Result);
        for (int i = 0; i < n; i++)
            if (BitConverter.SingleToUInt32Bits(fp32Result[i]) != BitConverter.SingleToUInt32Bits(gpuMaster[i]))
                Assert.Fail($"master[{i}]: mixed {gpuMaster[i]:R}, fp32 AdamW {fp32Result[i]:R}");
    }

    static void AssertClose((float[] Cpu, float[] Gpu) pair, string what, double tolerance = 1e-5)
    {
        double scale = pair.Cpu.Max(v => Math.Abs((double)v));
        for (int i = 0; i < pair.Cpu.Length; i++)
        {
            double error = Math.Abs((double)pair.Gpu[i] - pair.Cpu[i]);
            if (!(error <= tolerance * Math.Max(scale, 1e-30)))
                Assert.Fail($"{what}[{i}]: GPU {pair.Gpu[i]:R}, CPU {pair.Cpu[i]:R} (|err| {error:E2} > {tolerance:E0}·{scale:G4})");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100_003)]
    public void Unscale_matches_the_CPU_bit_for_bit_and_flags_inf_and_NaN(int n)
    {
        using var p = Open(n + 5);
        var values = p.RandomArray(n, 65536);
        var g = p.Upload(values);
        Assert.True(p.Cpu.UnscaleAndCheckFinite(g.C, 65536f));
        Assert.True(p.Gpu.UnscaleAndCheckFinite(g.G, 65536f));
        var (cpu, gpu) = p.Download(g);
        for (int i = 0; i < n; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(cpu[i]), BitConverter.SingleToUInt32Bits(gpu[i]));

        foreach (float bad in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN })
        {
            var withBad = (float[])values.Clone();
            withBad[p.Rng.Next(n)] = bad;
            var b = p.Upload(withBad);
            Assert.False(p.Cpu.UnscaleAndCheckFinite(b.C, 1024f));
            Assert.False(p.Gpu.UnscaleAndCheckFinite(b.G, 1024f));
            Assert.True(p.Gpu.UnscaleAndCheckFinite(g.G, 1f)); // the flag is cleared for the next call
        }
    }
}
