using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>LayerNorm and RMSNorm over the batch's rows (memory-bound: the rate is GB/s).</summary>
public sealed class NormalizationBenchmarks : OpBenchmarkFamily
{
    public override string Family => "normalization";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("layernorm forward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width;
            var (output, input, weight, bias) = (c.Values((long)N * C), c.Values((long)N * C), c.Values(C), c.Values(C));
            var (mean, rstd) = (c.Fp32(N), c.Fp32(N));
            return new(() => c.Backend.LayerNormForward(output, mean, rstd, input, weight, bias, N, C, 1e-5f),
                Bytes: 2.0 * N * C * c.ValueBytes + 2.0 * C * c.ValueBytes + 2.0 * N * 4, Flops: 0);
        });
        yield return new("residual + layernorm forward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width;
            var (residual, output, a, b) = (c.Values((long)N * C), c.Values((long)N * C), c.Values((long)N * C), c.Values((long)N * C));
            var (weight, bias, mean, rstd) = (c.Values(C), c.Values(C), c.Fp32(N), c.Fp32(N));
            // Reads a and b, writes the residual and the output (the residual is re-read from cache, not counted).
            return new(() => c.Backend.ResidualLayerNormForward(residual, output, mean, rstd, a, b, weight, bias, N, C, 1e-5f),
                Bytes: 4.0 * N * C * c.ValueBytes + 2.0 * C * c.ValueBytes + 2.0 * N * 4, Flops: 0);
        });
        yield return new("layernorm backward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width;
            var (dInput, dOutput, input, weight) = (c.Values((long)N * C), c.Values((long)N * C), c.Values((long)N * C), c.Values(C));
            var (dWeight, dBias, mean, rstd) = (c.Fp32(C), c.Fp32(C), c.Fp32(N), c.Fp32(N));
            // dInput is read and written (backward accumulates); dOutput and the input are read twice (input
            // gradient, then the weight and bias sums), counted once: what a fused kernel would move.
            return new(() => c.Backend.LayerNormBackward(dInput, dWeight, dBias, dOutput, input, weight, mean, rstd, N, C),
                Bytes: 4.0 * N * C * c.ValueBytes + 2.0 * N * 4 + 4.0 * C * 4, Flops: 0);
        });
        yield return new("rmsnorm forward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width;
            var (output, input, weight) = (c.Values((long)N * C), c.Values((long)N * C), c.Values(C));
            var rstd = c.Fp32(N);
            return new(() => c.Backend.RmsNormForward(output, rstd, input, weight, N, C, 1e-6f),
                Bytes: 2.0 * N * C * c.ValueBytes + C * c.ValueBytes + N * 4.0, Flops: 0);
        });
        yield return new("rmsnorm backward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width;
            var (dInput, dOutput, input, weight) = (c.Values((long)N * C), c.Values((long)N * C), c.Values((long)N * C), c.Values(C));
            var (dWeight, rstd) = (c.Fp32(C), c.Fp32(N));
            return new(() => c.Backend.RmsNormBackward(dInput, dWeight, dOutput, input, weight, rstd, N, C),
                Bytes: 4.0 * N * C * c.ValueBytes + N * 4.0 + 2.0 * C * 4, Flops: 0);
        });
    }
}
