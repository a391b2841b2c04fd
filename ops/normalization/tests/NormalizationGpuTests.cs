using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// LayerNorm (alone and with the residual add fused in front) and RMSNorm, forward and backward, on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class NormalizationGpuTests
{
    /// <summary>The residual add fused into layernorm (GPT-2's ln_2, BERT's two norms) against its definition on the
    /// CPU, the two ops in turn; in place (residual = a) too, as the add allows.</summary>
    [Theory]
    [InlineData(19, 70, false)]
    [InlineData(130, 33, true)]
    public void Residual_add_fused_into_layernorm(int N, int C, bool inPlace)
    {
        using var p = Open(N * C + 1);
        var a = p.Upload(p.RandomArray(N * C, 3));
        var b = p.Upload(p.RandomArray(N * C, 3));
        var w = p.Upload(p.RandomArray(C));
        var bias = p.Upload(p.RandomArray(C));
        var residual = inPlace ? a : p.Poisoned(N * C);
        var y = p.Poisoned(N * C);
        var mean = p.Poisoned(N);
        var rstd = p.Poisoned(N);
        ((Engine.Tensors.IBackend)p.Cpu).ResidualLayerNormForward(residual.C, y.C, mean.C, rstd.C, a.C, b.C, w.C, bias.C, N, C, 1e-5f);
        p.Gpu.ResidualLayerNormForward(residual.G, y.G, mean.G, rstd.G, a.G, b.G, w.G, bias.G, N, C, 1e-5f);
        p.AssertClose(residual, "residual", tolerance: 0); // one fp32 add per element on both sides
        p.AssertClose(y, "layernorm output");
        p.AssertClose(mean, "mean");
        p.AssertClose(rstd, "rstd");
    }

    [Theory]
    [InlineData(19, 70, true)]
    [InlineData(130, 33, false)] // more rows than one chunk of the column sums, no bias
    public void LayerNorm_forward_and_backward(int N, int C, bool withBias)
    {
        using var p = Open(N + C);
        var x = p.Upload(p.RandomArray(N * C, 3));
        var w = p.Upload(p.RandomArray(C));
        var b = withBias ? p.Upload(p.RandomArray(C)) : None;
        var y = p.Poisoned(N * C);
        var mean = p.Poisoned(N);
        var rstd = p.Poisoned(N);
        p.Cpu.LayerNormForward(y.C, mean.C, rstd.C, x.C, w.C, b.C, N, C, 1e-5f);
        p.Gpu.LayerNormForward(y.G, mean.G, rstd.G, x.G, w.G, b.G, N, C, 1e-5f);
        p.AssertClose(y, "layernorm output");
        p.AssertClose(mean, "mean");
        p.AssertClose(rstd, "rstd");

        var dy = p.Upload(p.RandomArray(N * C));
        var dx = p.Upload(p.RandomArray(N * C));
        var dw = p.Upload(p.RandomArray(C));
        var db = withBias ? p.Upload(p.RandomArray(C)) : None;
        p.Cpu.LayerNormBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, mean.C, rstd.C, N, C);
        p.Gpu.LayerNormBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, mean.G, rstd.G, N, C);
        p.AssertClose(dx, "layernorm d input");
        p.AssertClose(dw, "layernorm d weight");
        if (withBias) p.AssertClose(db, "layernorm d bias");
    }

    [Theory]
    [InlineData(19, 70)]
    [InlineData(130, 33)] // more rows than one chunk of the weight-gradient sums
    public void RmsNorm_forward_and_backward(int N, int C)
    {
        using var p = Open(N * 7 + C);
        var x = p.Upload(p.RandomArray(N * C, 3));
        var w = p.Upload(p.RandomArray(C));
        var y = p.Poisoned(N * C);
        var rstd = p.Poisoned(N);
        p.Cpu.RmsNormForward(y.C, rstd.C, x.C, w.C, N, C, 1e-6f);
        p.Gpu.RmsNormForward(y.G, rstd.G, x.G, w.G, N, C, 1e-6f);
        p.AssertClose(y, "rmsnorm output");
        p.AssertClose(rstd, "rstd");

        var dy = p.Upload(p.RandomArray(N * C));
        var dx = p.Upload(p.RandomArray(N * C));
        var dw = p.Upload(p.RandomArray(C));
        p.Cpu.RmsNormBackward(dx.C, dw.C, dy.C, x.C, w.C, rstd.C, N, C);
        p.Gpu.RmsNormBackward(dx.G, dw.G, dy.G, x.G, w.G, rstd.G, N, C);
        p.AssertClose(dx, "rmsnorm d input");
        p.AssertClose(dw, "rmsnorm d weight");
    }
}
