using Engine.Backends.Benchmarks;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>Token and position embeddings for a batch (memory-bound).</summary>
public sealed class EmbeddingBenchmarks : OpBenchmarkFamily
{
    public override string Family => "embedding";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("embedding forward", c =>
        {
            int T = c.Shape.Sequence, B = Math.Max(1, c.Shape.Rows / T), C = c.Shape.Width, V = c.Shape.Vocab;
            var (output, tokens, tokenTable, positionTable) = (c.Values((long)B * T * C), c.Ids((long)B * T, V), c.Values((long)V * C), c.Values((long)T * C));
            return new(() => c.Backend.EmbeddingForward(output, tokens, tokenTable, positionTable, B, T, C),
                Bytes: 3.0 * B * T * C * c.ValueBytes + B * T * 4.0, Flops: 0);
        });
    }
}
