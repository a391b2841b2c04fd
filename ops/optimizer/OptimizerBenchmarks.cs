using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>AdamW (fp32 and 8-bit moments) and the gradient norm over one transformer block's parameters (12·C²), in fp32 as the
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
        yield return new("adamw 8-bit", c =>
        {
            long n = 12L * c.Shape.Width * c.Shape.Width;
            var fp32 = c.Backend.Fp32Backend;
            var (parameters, gradients) = (c.Fp32(n, fp32State: true), c.Fp32(n, fp32State: true));
            // One tensor of n elements: codes, one absmax per 2048-block, the two maps (as BlockwiseMoments holds them).
            long blocks = Engine.Backends.Cpu.Ops.AdamW8Bit.BlockCount(n, 2048);
            var (m, v) = (c.Zeros<byte>(n, fp32State: true), c.Zeros<byte>(n, fp32State: true));
            var (mAbsmax, vAbsmax) = (c.Zeros<float>(blocks, fp32State: true), c.Zeros<float>(blocks, fp32State: true));
            var (mMap, vMap) = (c.Zeros<float>(256, fp32State: true), c.Zeros<float>(256, fp32State: true));
            fp32.CopyIn<float>(Engine.Backends.Cpu.Ops.DynamicQuantizationMap.Signed(), mMap);
            fp32.CopyIn<float>(Engine.Backends.Cpu.Ops.DynamicQuantizationMap.Unsigned(), vMap);
            int step = 0;
            // Reads parameters, gradients and both codes; writes parameters and both codes (the absmax adds 1/256 of that).
            return new(() => fp32.AdamW8Bit(parameters, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, 2048, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, ++step),
                Bytes: (3.0 * 4 + 4.0) * n, Flops: 0);
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
