using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>The MLP's first projection, C → 4·C over the batch's rows (compute-bound: the rate is GFLOP/s).</summary>
public sealed class MatmulBenchmarks : OpBenchmarkFamily
{
    public override string Family => "matmul";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("matmul forward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width, OC = 4 * c.Shape.Width;
            var (output, input, weight, bias) = (c.Values((long)N * OC), c.Values((long)N * C), c.Values((long)OC * C), c.Values(OC));
            return new(() => c.Backend.MatmulForward(output, input, weight, bias, N, C, OC),
                Bytes: ((double)N * C + (double)OC * C + (double)N * OC) * c.ValueBytes, Flops: 2.0 * N * C * OC);
        });
        yield return new("matmul backward", c =>
        {
            int N = c.Shape.Rows, C = c.Shape.Width, OC = 4 * c.Shape.Width;
            var (dInput, dOutput, input, weight) = (c.Values((long)N * C), c.Values((long)N * OC), c.Values((long)N * C), c.Values((long)OC * C));
            var (dWeight, dBias) = (c.Fp32((long)OC * C), c.Fp32(OC));
            // dInput += dOut·W and dWeight += dOutᵀ·input: two products of the forward's size (dBias not counted).
            return new(() => c.Backend.MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC),
                Bytes: ((double)N * OC + 3.0 * N * C + (double)OC * C) * c.ValueBytes + 2.0 * OC * C * 4, Flops: 4.0 * N * C * OC);
        });
    }
}
