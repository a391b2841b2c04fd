using Engine.Tensors;
using Engine.Precision;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// Mixed precision's matrix products on the GPU: on 16-bit storage against the CPU's staged ops, and on 16-bit operands
/// against the fp32 product of the same values.
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class MatmulMixedPrecisionGpuTests
{
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
        p.Cpu.MatmulBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, N, C, OC, GradientWrite.Accumulate);
        p.Gpu.MatmulBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, N, C, OC, GradientWrite.Accumulate);
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
        p.Cpu.MatmulBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, N, C, OC, GradientWrite.Accumulate);
        p.Gpu.MatmulBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, N, C, OC, GradientWrite.Accumulate);
        AssertClose(p.Download(dx), $"{format} matmul d input");
        AssertClose(p.Download(dw), $"{format} matmul d weight");
        AssertClose(p.Download(db), $"{format} matmul d bias");
    }
}
