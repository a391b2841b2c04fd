namespace Engine.Objectives;

/// <summary>
/// Which source each sequence of a data mixture comes from: a deterministic weighted round-robin. The n-th sequence
/// (counting from the start of the run, across steps and micro-batches) goes to the source furthest behind its share,
/// the largest (n·wᵢ/W − cᵢ), where cᵢ counts the sequences source i has given so far; ties go to the earlier source.
/// <para>
/// Why not a seeded random choice per slot: this keeps every source within one sequence of its exact share at every
/// point of the run (3:1 with 8 sequences a step is exactly 6 + 2 every step), so the mixture a run trains on is the
/// one asked for rather than a sample of it, and the whole state is the per-source counts, which a checkpoint saves
/// anyway. It depends on nothing but the weights and the counts, so every rank of a data-parallel run computes the same
/// choice for every row of the global batch, and a resumed run continues it exactly.
/// </para>
/// </summary>
public sealed class SourceSchedule
{
    readonly double[] weights;
    readonly double total;
    readonly long[] drawn;

    public SourceSchedule(IReadOnlyList<double> weights)
    {
        if (weights.Count == 0 || weights.Any(w => !(w > 0) || !double.IsFinite(w)))
            throw new ArgumentException($"source weights must be positive finite numbers (got {string.Join(", ", weights)})", nameof(weights));
        this.weights = weights.ToArray();
        total = this.weights.Sum();
        drawn = new long[weights.Count];
    }

    /// <summary>Sequences each source has given so far.</summary>
    public IReadOnlyList<long> Drawn => drawn;

    /// <summary>The source of the next sequence (and counts it).</summary>
    public int Next()
    {
        long n = drawn.Sum() + 1;
        int best = 0;
        double bestDeficit = double.NegativeInfinity;
        for (int i = 0; i < weights.Length; i++)
        {
            double deficit = n * weights[i] / total - drawn[i];
            if (deficit > bestDeficit) { best = i; bestDeficit = deficit; }
        }
        drawn[best]++;
        return best;
    }

    /// <summary>Continues from saved counts.</summary>
    public void Restore(IReadOnlyList<long> counts)
    {
        if (counts.Count != drawn.Length || counts.Any(c => c < 0))
            throw new ArgumentException($"saved mixture counts [{string.Join(", ", counts)}] do not fit {drawn.Length} sources", nameof(counts));
        for (int i = 0; i < drawn.Length; i++) drawn[i] = counts[i];
    }
}
