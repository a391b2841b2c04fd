using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>GELU over the MLP's hidden activations (4·C wide) and the residual stream's adds (memory-bound).</summary>
public sealed class ElementwiseBenchmarks : OpBenchmarkFamily
{
    public override string Family => "elementwise";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("gelu forward", c =>
        {
            long n = (long)c.Shape.Rows * 4 * c.Shape.Width;
            var (output, input) = (c.Values(n), c.Values(n));
            return new(() => c.Backend.GeluForward(output, input), Bytes: 2.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("gelu backward", c =>
        {
            long n = (long)c.Shape.Rows * 4 * c.Shape.Width;
            var (dInput, dOutput, input) = (c.Values(n), c.Values(n), c.Values(n));
            return new(() => c.Backend.GeluBackward(dInput, dOutput, input), Bytes: 4.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("residual add", c =>
        {
            long n = (long)c.Shape.Rows * c.Shape.Width;
            var (output, a, b) = (c.Values(n), c.Values(n), c.Values(n));
            return new(() => c.Backend.Add(output, a, b), Bytes: 3.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("accumulate", c =>
        {
            long n = (long)c.Shape.Rows * c.Shape.Width;
            var (destination, source) = (c.Values(n), c.Values(n));
            return new(() => c.Backend.Accumulate(destination, source), Bytes: 3.0 * n * c.ValueBytes, Flops: 0);
        });
    }
}
