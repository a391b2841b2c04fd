using Engine.Backends.Benchmarks;
using Engine.Backends.Benchmarks.Families;
using Engine.Backends.Cpu.Ops;

namespace Engine.Tests.Backends;

/// <summary>The int8 benchmarks sit in the quantization family (its folder) and their group selects them together:
/// the product on the backend, each CPU path this CPU runs, the epilogue, weight-only int8 and its fp32 peer.</summary>
public class Int8MatmulBenchmarkTests
{
    [Fact]
    public void The_group_selects_the_int8_benchmarks()
    {
        var chosen = OpBenchmarks.Select(Int8MatmulBenchmarks.Group);
        Assert.All(chosen, b => Assert.Equal("quantization", b.Family));
        var names = chosen.Select(b => b.Benchmark.Name).ToList();
        var paths = new[] { Int8GemmPath.Scalar, Int8GemmPath.Avx2, Int8GemmPath.Vnni }.Where(Int8Matmul.IsSupported)
            .Select(p => $"int8 matmul cpu {p.ToString().ToLowerInvariant()}");
        Assert.Equal(["int8 matmul", .. paths, "int8 matmul dequantize", "matmul int8 weights", "matmul fp32 (int8 shape)"], names);
        Assert.Contains("the groups Int8Matmul", Assert.Throws<EngineException>(() => OpBenchmarks.Select("int8 sideways")).Message);
    }
}
