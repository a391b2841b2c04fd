namespace Engine.Objectives;

/// <summary>
/// One micro-batch as the model consumes it: B×T token ids and one target per output row (−100 = not predicted),
/// plus what some families read besides (attention mask, decoder inputs).
/// </summary>
public sealed record Batch(int[] Tokens, int[] Targets, int B, int T)
{
    public int[]? AttentionMask { get; init; }
    /// <summary>(B, DecoderT) decoder inputs of an encoder-decoder model; the targets are then B×DecoderT.</summary>
    public int[]? DecoderTokens { get; init; }
    public int DecoderT { get; init; }

    public int CountedTargets => Targets.Count(t => t != Backends.Cpu.Ops.CrossEntropy<float>.IgnoreIndex);

    /// <summary>Rows [first, first + count) of this batch, with everything that goes with them (data parallelism).</summary>
    public Batch Rows(int first, int count)
    {
        if (first < 0 || count <= 0 || first + count > B) throw new ArgumentOutOfRangeException(nameof(first), $"rows [{first}, {first + count}) of a batch of {B}");
        int targetsPerRow = Targets.Length / B;
        return new Batch(Tokens.AsSpan(first * T, count * T).ToArray(), Targets.AsSpan(first * targetsPerRow, count * targetsPerRow).ToArray(), count, T)
        {
            AttentionMask = AttentionMask?.AsSpan(first * T, count * T).ToArray(),
            DecoderTokens = DecoderTokens?.AsSpan(first * DecoderT, count * DecoderT).ToArray(),
            DecoderT = DecoderT,
        };
    }

    public Models.ModelInputs Inputs => new(Tokens, B, T) { AttentionMask = AttentionMask, DecoderTokens = DecoderTokens, DecoderT = DecoderT };
}
