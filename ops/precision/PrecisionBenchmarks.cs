using Engine.Backends.Benchmarks;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>fp32 → bf16 rounding of one block's weights (12·C²), what mixed precision's AdamW writes beside its
/// masters (memory-bound).</summary>
public sealed class PrecisionBenchmarks : OpBenchmarkFamily
{
    public override string Family => "precision";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("cast to bf16", c =>
        {
            long n = 12L * c.Shape.Width * c.Shape.Width;
            var fp32 = c.Backend.Fp32Backend;
            var input = c.Fp32(n, fp32State: true);
            var output = c.Zeros<ushort>(n, fp32State: true);
            return new(() => fp32.CastToHalf(output, input, HalfFormat.Bf16), Bytes: n * 6.0, Flops: 0);
        });
    }
}
