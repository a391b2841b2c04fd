using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>The fused softmax cross-entropy over a GPT-2 vocabulary, dlogits written over the logits (memory-bound).</summary>
public sealed class ClassifierBenchmarks : OpBenchmarkFamily
{
    public override string Family => "classifier";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("softmax cross-entropy", c =>
        {
            int N = c.Shape.Rows, V = c.Shape.Vocab;
            var (logits, losses, targets) = (c.Values((long)N * V), c.Fp32(N), c.Ids(N, V));
            // The logits are read (max, sum) and overwritten by their gradient: one read and one write counted.
            return new(() => c.Backend.SoftmaxCrossEntropy(logits, losses, targets, N, V, V, 1f / N),
                Bytes: 2.0 * N * V * c.ValueBytes + N * 8.0, Flops: 0);
        });
    }
}
