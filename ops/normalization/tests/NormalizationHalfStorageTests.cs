using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// LayerNorm (with and without the residual add) and RMSNorm on 16-bit values: the bf16 and fp16 entries against the CPU's staged ops
/// (<see cref="HalfStoragePair"/>: one 16-bit ulp plus 1e-5 of the largest magnitude for a 16-bit output, 1e-5 for an
/// fp32 one; nothing staged on the GPU). Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class NormalizationHalfStorageTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void LayerNorm_and_RMSNorm_read_and_write_16_bit_values_and_keep_fp32_statistics(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 5 + (int)format);
        const int N = 70, C = 83; // more rows than one chunk of the column sums
        var x = p.Stored(p.RandomArray(N * C, 3));
        var w = p.Stored(p.RandomArray(C));
        var b = p.Stored(p.RandomArray(C));
        var y = p.Poisoned(N * C);
        var mean = p.Fp32(Enumerable.Repeat(float.NaN, N).ToArray());
        var rstd = p.Fp32(Enumerable.Repeat(float.NaN, N).ToArray());
        p.Cpu.LayerNormForward(y.C, mean.C, rstd.C, x.C, w.C, b.C, N, C, 1e-5f);
        p.Gpu.LayerNormForward(y.G, mean.G, rstd.G, x.G, w.G, b.G, N, C, 1e-5f);
        p.AssertHalfClose(y, "layernorm output");
        p.AssertClose(mean, "mean (fp32)");
        p.AssertClose(rstd, "rstd (fp32)");

        var dy = p.Stored(p.RandomArray(N * C));
        var dx = p.Stored(p.RandomArray(N * C)); // accumulated onto, in 16 bits
        var dw = p.Fp32(p.RandomArray(C));
        var db = p.Fp32(p.RandomArray(C));
        p.Cpu.LayerNormBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, mean.C, rstd.C, N, C);
        p.Gpu.LayerNormBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, mean.G, rstd.G, N, C);
        p.AssertHalfClose(dx, "layernorm d input");
        p.AssertClose(dw, "layernorm d weight (fp32)");
        p.AssertClose(db, "layernorm d bias (fp32)");

        // The residual add fused in front (GPT-2's ln_2, BERT's norms): the residual rounded once, the norm of it.
        var other = p.Stored(p.RandomArray(N * C, 3));
        var residual = p.Poisoned(N * C);
        var fused = p.Poisoned(N * C);
        p.Cpu.ResidualLayerNormForward(residual.C, fused.C, mean.C, rstd.C, x.C, other.C, w.C, b.C, N, C, 1e-5f);
        p.Gpu.ResidualLayerNormForward(residual.G, fused.G, mean.G, rstd.G, x.G, other.G, w.G, b.G, N, C, 1e-5f);
        var (cpuResidual, gpuResidual) = p.Read(residual);
        Assert.Equal(cpuResidual, gpuResidual); // one fp32 add of the same 16-bit values, rounded once: the same bits
        p.AssertHalfClose(fused, "residual + layernorm output");
        p.AssertClose(mean, "residual + layernorm mean (fp32)");
        p.AssertClose(rstd, "residual + layernorm rstd (fp32)");

        var r = p.Poisoned(N * C);
        p.Cpu.RmsNormForward(r.C, rstd.C, x.C, w.C, N, C, 1e-6f);
        p.Gpu.RmsNormForward(r.G, rstd.G, x.G, w.G, N, C, 1e-6f);
        p.AssertHalfClose(r, "rmsnorm output");
        p.AssertClose(rstd, "rmsnorm rstd (fp32)");
        p.Cpu.RmsNormBackward(dx.C, dw.C, dy.C, x.C, w.C, rstd.C, N, C);
        p.Gpu.RmsNormBackward(dx.G, dw.G, dy.G, x.G, w.G, rstd.G, N, C);
        p.AssertHalfClose(dx, "rmsnorm d input");
        p.AssertClose(dw, "rmsnorm d weight (fp32)");
        p.AssertNothingStaged();
    }
}
