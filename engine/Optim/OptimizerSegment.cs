using Engine.Tensors;

namespace Engine.Optim;

/// <summary>
/// A range of the buffer AdamW updates with one weight-decay setting. One process updates the whole flat buffer
/// (<see cref="Of(ParameterLayout)"/>); an FSDP rank updates the parts of tensors its shard holds
/// (<see cref="Distributed.ShardPlan.LocalSegments"/>).
/// </summary>
public readonly record struct OptimizerSegment(long Start, long Count, bool Decay)
{
    /// <summary>The whole flat buffer: runs of neighbouring tensors with the same decay setting (one call each).</summary>
    public static IReadOnlyList<OptimizerSegment> Of(ParameterLayout layout) =>
        Merge(layout.Tensors.Select(t => new OptimizerSegment(t.Offset, t.Count, t.Decay)));

    /// <summary>Joins segments that touch and share a decay setting, so the backend gets fewer, longer calls.</summary>
    public static IReadOnlyList<OptimizerSegment> Merge(IEnumerable<OptimizerSegment> segments)
    {
        var merged = new List<OptimizerSegment>();
        foreach (var s in segments)
        {
            if (s.Count == 0) continue;
            if (merged.Count > 0 && merged[^1].Decay == s.Decay && merged[^1].Start + merged[^1].Count == s.Start)
                merged[^1] = merged[^1] with { Count = merged[^1].Count + s.Count };
            else merged.Add(s);
        }
        return merged;
    }
}
