using Engine.Backends;
using Engine.Backends.Benchmarks;
using Engine.Precision;
using Engine.Tests.Support;

namespace Engine.Tests.Backends;

/// <summary>The op families' micro-benchmarks (ops/FAMILY/*Benchmarks.cs): every family has some, each runs on
/// every backend and precision at a small shape, and the bench command selects and reports them.</summary>
public class OpBenchmarkTests
{
    [Fact]
    public void Every_op_family_has_benchmarks()
    {
        var families = OpBenchmarks.All().Select(b => b.Family).Distinct().ToList();
        Assert.Equal(["attention", "classifier", "elementwise", "embedding", "matmul", "normalization", "optimizer", "precision", "quantization"], families);
        Assert.Equal(OpBenchmarks.All().Count, OpBenchmarks.All().Select(b => b.Benchmark.Name).Distinct().Count());
    }

    [Fact]
    public void A_name_selects_an_op_a_family_or_all_and_anything_else_is_refused()
    {
        Assert.Single(OpBenchmarks.Select("layernorm forward"));
        Assert.Equal(5, OpBenchmarks.Select("normalization").Count); // layernorm fwd, residual + layernorm fwd, layernorm bwd, rmsnorm fwd, bwd
        Assert.Equal(OpBenchmarks.All().Count, OpBenchmarks.Select("all").Count);
        var e = Assert.Throws<EngineException>(() => OpBenchmarks.Select("layernorm sideways"));
        Assert.Contains("layernorm forward", e.Message);
        Assert.Contains("normalization", e.Message);
    }

    [Theory]
    [InlineData(PrecisionMode.Fp32)]
    [InlineData(PrecisionMode.Bf16)]
    public void Every_benchmark_runs_on_the_cpu(PrecisionMode precision) => RunAll(DeviceKind.Cpu, precision);

    [Theory]
    [Trait("Category", "GPU")]
    [InlineData(PrecisionMode.Fp32)]
    [InlineData(PrecisionMode.Bf16)]
    public void Every_benchmark_runs_on_the_gpu(PrecisionMode precision)
    {
        Gpu.Require();
        RunAll(DeviceKind.Cuda, precision);
    }

    static void RunAll(DeviceKind device, PrecisionMode precision)
    {
        using var backends = BackendFactory.Create(device, out _, precision: precision);
        long before = backends.Device.AllocatedBytes;
        foreach (var (family, benchmark) in OpBenchmarks.All())
        {
            var r = OpBenchmarks.Run(family, benchmark, backends.Compute, OpBenchmarkShape.Small, repeats: 2);
            Assert.True(r.MedianSeconds > 0 && double.IsFinite(r.BytesPerSecond) && r.Bytes > 0, $"{benchmark.Name}: {r}");
        }
        Assert.True(backends.Mixed == null || backends.Mixed.StagingBytes >= 0);
        // Every benchmark frees what it allocated (the staging layer and a GPU's scratch may keep theirs).
        if (backends.Mixed == null && device == DeviceKind.Cpu) Assert.Equal(before, backends.Device.AllocatedBytes);
    }
}
