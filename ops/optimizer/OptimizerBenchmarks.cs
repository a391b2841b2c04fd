using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>AdamW and the gradient norm over one transformer block's parameters (12·C²), in fp32 as the
/// optimizer keeps them in every precision (memory-bound).</summary>
public sealed class OptimizerBenchmarks : OpBenchmarkFamily
{
    public override string Family => "optimizer";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("adamw", c =>
        {
            long n = 12L * c.Shape.Width * c.Shape.Width;
            var fp32 = c.Backend.Fp32Backend;
            var (parameters, gradients, m, v) = (c.Fp32(n, fp32State: true), c.Fp32(n, fp32State: true), c.Fp32(n, fp32State: true), c.Fp32(n, fp32State: true));
            int step = 0;
            // Reads parameters, gradients and both moments; writes parameters and both moments.
            return new(() => fp32.AdamW(parameters, gradients, m, v, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step), Bytes: 7.0 * n * 4, Flops: 0);
        });
        yield return new("gradient norm", c =>
        {
            long n = 12L * c.Shape.Width * c.Shape.Width;
            var fp32 = c.Backend.Fp32Backend;
            var gradients = c.Fp32(n, fp32State: true);
            return new(() => fp32.SumOfSquares(gradients), Bytes: n * 4.0, Flops: 0);
        });
    }
}
