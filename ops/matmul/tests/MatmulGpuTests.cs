using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The matrix product (cuBLAS and the bias kernels), forward and backward, on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class MatmulGpuTests
{
    [Theory]
    [InlineData(37, 70, 45, true, true)]
    [InlineData(129, 16, 3, false, false)] // no bias, no input gradient (the first layer's case)
    public void Matmul_forward_and_backward(int N, int C, int OC, bool withBias, bool inputGradient)
    {
        using var p = Open(N * 3 + OC);
        var x = p.Upload(p.RandomArray(N * C));
        var w = p.Upload(p.RandomArray(OC * C));
        var b = withBias ? p.Upload(p.RandomArray(OC)) : None;
        var y = p.Poisoned(N * OC);
        p.Cpu.MatmulForward(y.C, x.C, w.C, b.C, N, C, OC);
        p.Gpu.MatmulForward(y.G, x.G, w.G, b.G, N, C, OC);
        p.AssertClose(y, "matmul output");

        var dy = p.Upload(p.RandomArray(N * OC));
        var dx = inputGradient ? p.Upload(p.RandomArray(N * C)) : None;
        var dw = p.Upload(p.RandomArray(OC * C));
        var db = withBias ? p.Upload(p.RandomArray(OC)) : None;
        p.Cpu.MatmulBackward(dx.C, dw.C, db.C, dy.C, x.C, w.C, N, C, OC, GradientWrite.Accumulate);
        p.Gpu.MatmulBackward(dx.G, dw.G, db.G, dy.G, x.G, w.G, N, C, OC, GradientWrite.Accumulate);
        if (inputGradient) p.AssertClose(dx, "matmul d input");
        p.AssertClose(dw, "matmul d weight");
        if (withBias) p.AssertClose(db, "matmul d bias");
    }
}
