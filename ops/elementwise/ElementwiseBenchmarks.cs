using Engine.Backends.Benchmarks;
using Engine.Tensors;

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
            // Overwrites dInput, as the models do (GradientWrite): reads dOutput and input, writes dInput.
            return new(() => c.Backend.GeluBackward(dInput, dOutput, input, GradientWrite.Overwrite), Bytes: 3.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("gelu-erf forward", c =>
        {
            long n = (long)c.Shape.Rows * 4 * c.Shape.Width;
            var (output, input) = (c.Values(n), c.Values(n));
            return new(() => c.Backend.GeluErfForward(output, input), Bytes: 2.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("gelu-erf backward", c =>
        {
            long n = (long)c.Shape.Rows * 4 * c.Shape.Width;
            var (dInput, dOutput, input) = (c.Values(n), c.Values(n), c.Values(n));
            return new(() => c.Backend.GeluErfBackward(dInput, dOutput, input, GradientWrite.Overwrite), Bytes: 3.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("gated gelu forward", c =>
        {
            int N = c.Shape.Rows, F = 4 * c.Shape.Width;
            var (output, input) = (c.Values((long)N * F), c.Values(2L * N * F));
            // Reads both halves of each input row, writes one output row.
            return new(() => c.Backend.GatedGeluForward(output, input, N, F), Bytes: 3.0 * N * F * c.ValueBytes, Flops: 0);
        });
        yield return new("gated gelu backward", c =>
        {
            int N = c.Shape.Rows, F = 4 * c.Shape.Width;
            var (dInput, dOutput, input) = (c.Values(2L * N * F), c.Values((long)N * F), c.Values(2L * N * F));
            // Reads the input (2F) and dOutput (F) per row; overwrites dInput (2F), as the models do.
            return new(() => c.Backend.GatedGeluBackward(dInput, dOutput, input, N, F, GradientWrite.Overwrite), Bytes: 5.0 * N * F * c.ValueBytes, Flops: 0);
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
        yield return new("scale", c =>
        {
            long n = (long)c.Shape.Rows * c.Shape.Width;
            var x = c.Values(n);
            return new(() => c.Backend.Scale(x, 1f), Bytes: 2.0 * n * c.ValueBytes, Flops: 0);
        });
        yield return new("zero", c =>
        {
            long n = (long)c.Shape.Rows * 4 * c.Shape.Width;
            var x = c.Values(n);
            // Writes only.
            return new(() => c.Backend.Zero(x), Bytes: 1.0 * n * c.ValueBytes, Flops: 0);
        });
    }
}
