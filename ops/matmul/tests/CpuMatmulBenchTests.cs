using Engine.Backends.Cpu.Kernels;

namespace Engine.Tests.Backends.Cpu.Kernels;

[Collection(CpuMatmulCollection.Name)]
public class CpuMatmulBenchTests
{
    [Fact]
    public void Bench_ReportsPositiveThroughput()
    {
        var r = CpuMatmulBench.Bench(N: 64, C: 48, OC: 40, repeats: 3);
        Assert.Equal((64, 48, 40, 3), (r.N, r.C, r.OC, r.Repeats));
        Assert.True(r.ForwardGflops > 0 && double.IsFinite(r.ForwardGflops));
        Assert.True(r.BackwardGflops > 0 && double.IsFinite(r.BackwardGflops));
        Assert.True(r.ForwardBestGflops >= r.ForwardGflops);
        Assert.Contains("GFLOP/s", r.ToString());
    }
}
