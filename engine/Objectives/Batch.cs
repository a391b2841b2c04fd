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

    /// <summary>
    /// One batch dealt from several (a data mixture): row r is the next unused row of parts[source[r]], each part's rows
    /// taken in order. Parts without an attention mask attend to every position (mask 1) beside parts that have one.
    /// </summary>
    public static Batch Interleave(IReadOnlyList<Batch?> parts, IReadOnlyList<int> source)
    {
        var shape = parts.First(p => p != null)!;
        int B = source.Count, T = shape.T, targetsPerRow = shape.Targets.Length / shape.B, Td = shape.DecoderT;
        if (parts.Any(p => p != null && (p.T != T || p.Targets.Length / p.B != targetsPerRow || p.DecoderT != Td || (p.DecoderTokens == null) != (shape.DecoderTokens == null))))
            throw new ArgumentException("the parts of a mixed batch must have the same row shape", nameof(parts));
        var tokens = new int[B * T];
        var targets = new int[B * targetsPerRow];
        var mask = parts.Any(p => p?.AttentionMask != null) ? new int[B * T] : null;
        var decoder = shape.DecoderTokens != null ? new int[B * Td] : null;
        var next = new int[parts.Count];
        for (int row = 0; row < B; row++)
        {
            var part = parts[source[row]] ?? throw new ArgumentException($"row {row} comes from part {source[row]}, which is missing", nameof(parts));
            int k = next[source[row]]++;
            part.Tokens.AsSpan(k * T, T).CopyTo(tokens.AsSpan(row * T));
            part.Targets.AsSpan(k * targetsPerRow, targetsPerRow).CopyTo(targets.AsSpan(row * targetsPerRow));
            if (mask != null)
            {
                if (part.AttentionMask != null) part.AttentionMask.AsSpan(k * T, T).CopyTo(mask.AsSpan(row * T));
                else mask.AsSpan(row * T, T).Fill(1);
            }
            if (decoder != null) part.DecoderTokens!.AsSpan(k * Td, Td).CopyTo(decoder.AsSpan(row * Td));
        }
        for (int i = 0; i < parts.Count; i++)
            if (parts[i] is { } p && next[i] != p.B) throw new ArgumentException($"part {i} has {p.B} rows but the mixture takes {next[i]}", nameof(parts));
        return new Batch(tokens, targets, B, T) { AttentionMask = mask, DecoderTokens = decoder, DecoderT = Td };
    }

    public Models.ModelInputs Inputs => new(Tokens, B, T) { AttentionMask = AttentionMask, DecoderTokens = DecoderTokens, DecoderT = DecoderT };
}
