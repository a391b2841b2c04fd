using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The elementwise ops (GELU tanh and erf, add, accumulate, scale, gated GELU) on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class ElementwiseGpuTests
{
    [Fact]
    public void Elementwise_ops()
    {
        using var p = Open(5);
        const int n = 1001;
        var x = p.Upload(p.RandomArray(n, 5));
        var y = p.Poisoned(n);
        p.Cpu.GeluForward(y.C, x.C); p.Gpu.GeluForward(y.G, x.G);
        p.AssertClose(y, "gelu");
        var dy = p.Upload(p.RandomArray(n));
        var dx = p.Upload(p.RandomArray(n));
        p.Cpu.GeluBackward(dx.C, dy.C, x.C, GradientWrite.Accumulate); p.Gpu.GeluBackward(dx.G, dy.G, x.G, GradientWrite.Accumulate);
        p.AssertClose(dx, "gelu backward");
        var yErf = p.Poisoned(n);
        p.Cpu.GeluErfForward(yErf.C, x.C); p.Gpu.GeluErfForward(yErf.G, x.G);
        p.AssertClose(yErf, "erf gelu");
        p.Cpu.GeluErfBackward(dx.C, dy.C, x.C, GradientWrite.Accumulate); p.Gpu.GeluErfBackward(dx.G, dy.G, x.G, GradientWrite.Accumulate);
        p.AssertClose(dx, "erf gelu backward");

        var sum = p.Poisoned(n);
        p.Cpu.Add(sum.C, x.C, dy.C); p.Gpu.Add(sum.G, x.G, dy.G);
        p.AssertClose(sum, "residual add");
        p.Cpu.Accumulate(sum.C, x.C); p.Gpu.Accumulate(sum.G, x.G);
        p.AssertClose(sum, "accumulate");
        p.Cpu.Scale(sum.C, -0.37f); p.Gpu.Scale(sum.G, -0.37f);
        p.AssertClose(sum, "scale");
    }

    [Theory]
    [InlineData(13, 70)]
    [InlineData(1, 1001)]
    public void Gated_gelu_forward_and_backward(int N, int F)
    {
        using var p = Open(N + F);
        var x = p.Upload(p.RandomArray(N * 2 * F, 5));
        var y = p.Poisoned(N * F);
        p.Cpu.GatedGeluForward(y.C, x.C, N, F);
        p.Gpu.GatedGeluForward(y.G, x.G, N, F);
        p.AssertClose(y, "gated gelu");
        var dy = p.Upload(p.RandomArray(N * F));
        var dx = p.Upload(p.RandomArray(N * 2 * F));
        p.Cpu.GatedGeluBackward(dx.C, dy.C, x.C, N, F, GradientWrite.Accumulate);
        p.Gpu.GatedGeluBackward(dx.G, dy.G, x.G, N, F, GradientWrite.Accumulate);
        p.AssertClose(dx, "gated gelu backward");
    }
}
