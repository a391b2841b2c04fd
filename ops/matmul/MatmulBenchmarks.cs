using Engine.Backends.Benchmarks;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>
/// The linear layers of a GPT-2 block over the batch's rows (compute-bound: the rate is GFLOP/s): the MLP's first
/// projection C → 4·C as "matmul forward" / "matmul backward", then every shape a step runs, one benchmark per
/// shape and direction: attention's C → 3·C and C → C, the MLP's C → 4·C and 4·C → C, and the tied head C → vocabulary.
/// The shapes follow the benchmark shape's rows, width and vocabulary, so a model's shape gives that model's products.
/// </summary>
public sealed class MatmulBenchmarks : OpBenchmarkFamily
{
    public override string Family => "matmul";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return Forward("matmul forward", c => (c.Width, 4 * c.Width));
        yield return Backward("matmul backward", c => (c.Width, 4 * c.Width));
        (string Name, Func<OpBenchmarkShape, (int C, int OC)> Shape)[] layers =
        [
            ("qkv", c => (c.Width, 3 * c.Width)),
            ("attention projection", c => (c.Width, c.Width)),
            ("mlp up", c => (c.Width, 4 * c.Width)),
            ("mlp down", c => (4 * c.Width, c.Width)),
            ("head", c => (c.Width, c.Vocab)),
        ];
        foreach (var (name, shape) in layers)
        {
            yield return Forward($"matmul forward {name}", shape);
            yield return Backward($"matmul backward {name}", shape);
        }
    }

    static OpBenchmark Forward(string name, Func<OpBenchmarkShape, (int C, int OC)> shape) => new(name, c =>
    {
        int N = c.Shape.Rows;
        var (C, OC) = shape(c.Shape);
        var (output, input, weight, bias) = (c.Values((long)N * OC), c.Values((long)N * C), c.Values((long)OC * C), c.Values(OC));
        return new(() => c.Backend.MatmulForward(output, input, weight, bias, N, C, OC),
            Bytes: ((double)N * C + (double)OC * C + (double)N * OC) * c.ValueBytes, Flops: 2.0 * N * C * OC);
    });

    static OpBenchmark Backward(string name, Func<OpBenchmarkShape, (int C, int OC)> shape) => new(name, c =>
    {
        int N = c.Shape.Rows;
        var (C, OC) = shape(c.Shape);
        var (dInput, dOutput, input, weight) = (c.Values((long)N * C), c.Values((long)N * OC), c.Values((long)N * C), c.Values((long)OC * C));
        var (dWeight, dBias) = (c.Fp32((long)OC * C), c.Fp32(OC));
        // dInput = dOut·W (overwritten, as the models do) and dWeight += dOutᵀ·input: two products of the forward's
        // size (dBias not counted).
        return new(() => c.Backend.MatmulBackward(dInput, dWeight, dBias, dOutput, input, weight, N, C, OC, GradientWrite.Overwrite),
            Bytes: ((double)N * OC + 2.0 * N * C + (double)OC * C) * c.ValueBytes + 2.0 * OC * C * 4, Flops: 4.0 * N * C * OC);
    });
}
