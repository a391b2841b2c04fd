using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The gradient norm (Σg²) and AdamW on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class OptimizerGpuTests
{
    [Fact]
    public void Gradient_norm_is_deterministic_and_AdamW_matches()
    {
        using var p = Open(7);
        const int n = 100_003;
        var g = p.Upload(p.RandomArray(n));
        double cpu = p.Cpu.SumOfSquares(g.C), gpu = p.Gpu.SumOfSquares(g.G);
        Assert.True(Math.Abs(gpu - cpu) <= 1e-9 * cpu, $"Σg² GPU {gpu} vs CPU {cpu}"); // both sum in double
        Assert.Equal(gpu, p.Gpu.SumOfSquares(g.G)); // same bits twice

        var param = p.Upload(p.RandomArray(n));
        var m = p.Upload(p.RandomArray(n, 0.1));
        var v = p.Upload(p.RandomArray(n, 0.1).Select(Math.Abs).ToArray());
        p.Cpu.AdamW(param.C, g.C, m.C, v.C, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        p.Gpu.AdamW(param.G, g.G, m.G, v.G, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        p.AssertClose(param, "parameters");
        p.AssertClose(m, "first moment");
        p.AssertClose(v, "second moment");
    }
}
