using System.Text.RegularExpressions;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>A contiguous range of the flat parameter buffer that FSDP gathers and frees as one piece.</summary>
public sealed record ShardUnit(string Name, long Start, long Count);

/// <summary>
/// How FSDP splits the flat parameter buffer over the ranks of a sharding group. Each unit (the embeddings, each
/// transformer block, the final norm and head) is padded to a multiple of the group size and cut into equal
/// blocks; rank r keeps block r of every unit, concatenated in unit order, as its local shard (parameters,
/// gradients and AdamW moments all use this layout). Padding elements are zeros that never leave the shard.
/// </summary>
public sealed class ShardPlan
{
    public IReadOnlyList<ShardUnit> Units { get; }
    public int Shards { get; }
    /// <summary>Per unit: elements per rank (the unit's padded size / Shards).</summary>
    public IReadOnlyList<long> BlockSizes { get; }
    /// <summary>Per unit: where its block starts in a rank's local shard.</summary>
    public IReadOnlyList<long> LocalOffsets { get; }
    /// <summary>Elements each rank stores (Σ block sizes).</summary>
    public long LocalCount { get; }
    /// <summary>The largest padded unit: the gather buffer a rank needs for the unit in flight.</summary>
    public long LargestUnitPadded { get; }

    public ShardPlan(IReadOnlyList<ShardUnit> units, int shards)
    {
        if (shards < 1) throw new ArgumentOutOfRangeException(nameof(shards), "at least one shard");
        for (int i = 1; i < units.Count; i++)
            if (units[i].Start != units[i - 1].Start + units[i - 1].Count)
                throw new ArgumentException($"units must tile the buffer in order: {units[i].Name} starts at {units[i].Start}, not {units[i - 1].Start + units[i - 1].Count}");
        Units = units; Shards = shards;
        var blocks = new long[units.Count];
        var offsets = new long[units.Count];
        long local = 0, largest = 0;
        for (int i = 0; i < units.Count; i++)
        {
            blocks[i] = (units[i].Count + shards - 1) / shards;
            offsets[i] = local;
            local += blocks[i];
            largest = Math.Max(largest, blocks[i] * shards);
        }
        BlockSizes = blocks; LocalOffsets = offsets; LocalCount = local; LargestUnitPadded = largest;
    }

    /// <summary>Unit u padded to a whole number of blocks: the size of its gathered parameters and open gradients.</summary>
    public long PaddedCount(int unit) => BlockSizes[unit] * Shards;

    /// <summary>The part of unit u that rank r owns, as a range of the full buffer (empty when it is all padding).</summary>
    public (long Start, long Count) Owned(int unit, int rank)
    {
        var u = Units[unit];
        long first = Math.Min(u.Count, rank * BlockSizes[unit]);
        long end = Math.Min(u.Count, (rank + 1) * BlockSizes[unit]);
        return (u.Start + first, end - first);
    }

    /// <summary>The unit holding full-buffer element <paramref name="offset"/>.</summary>
    public int UnitAt(long offset)
    {
        int lo = 0, hi = Units.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (Units[mid].Start <= offset) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    /// <summary>Rank <paramref name="rank"/>'s shard of a full host buffer (the same on every rank: initialisation and
    /// checkpoints hold full tensors, so any world size can load them). Padding elements are written as zeros.</summary>
    public void TakeShard(ReadOnlySpan<float> full, Span<float> local, int rank)
    {
        if (local.Length != LocalCount) throw new ArgumentException($"a local shard holds {LocalCount} elements, not {local.Length}");
        local.Clear();
        for (int u = 0; u < Units.Count; u++)
        {
            var (start, count) = Owned(u, rank);
            full.Slice((int)start, (int)count).CopyTo(local.Slice((int)LocalOffsets[u], (int)count));
        }
    }

    /// <summary>
    /// The AdamW segments of rank <paramref name="rank"/>'s shard: the parts of each tensor it owns, in local
    /// coordinates, neighbours with the same weight-decay setting merged (padding is in no segment, so it stays 0).
    /// </summary>
    public IReadOnlyList<Optim.OptimizerSegment> LocalSegments(ParameterLayout layout, int rank, Optim.AdamWSettings settings) =>
        Optim.OptimizerSegment.Merge(LocalPieces(layout, rank, settings));

    /// <summary>The pieces of tensors rank <paramref name="rank"/>'s shard holds, in local coordinates, one per
    /// (unit, tensor) and not merged: each knows where it starts in its tensor (8-bit AdamW's blocks follow it).</summary>
    public IReadOnlyList<Optim.OptimizerSegment> LocalPieces(ParameterLayout layout, int rank, Optim.AdamWSettings settings)
    {
        var segments = new List<Optim.OptimizerSegment>();
        for (int u = 0; u < Units.Count; u++)
        {
            var (start, count) = Owned(u, rank);
            long end = start + count;
            foreach (var t in layout.Tensors)
            {
                long from = Math.Max(start, t.Offset), to = Math.Min(end, t.Offset + t.Count);
                if (from >= to) continue;
                segments.Add(new Optim.OptimizerSegment(LocalOffsets[u] + from - start, to - from, t.Decay, Optim.OptimizerSegment.LearningRateScaleOf(t, settings),
                    from - t.Offset, t.Count));
            }
        }
        return segments;
    }

    static readonly Regex LayerPrefix = new(@"^(.*?\.(?:h|layer|block)\.\d+)\.", RegexOptions.CultureInvariant);

    /// <summary>
    /// Units from a model's layout: every tensor named "….h.N.…", "….layer.N.…" or "….block.N.…" (GPT-2, BERT, T5)
    /// joins its block's unit; runs of other tensors between blocks form units of their own ("embeddings",
    /// "final", …, named after their first tensor).
    /// </summary>
    public static IReadOnlyList<ShardUnit> UnitsOf(ParameterLayout layout)
    {
        var units = new List<ShardUnit>();
        string? key = null; long start = 0, count = 0;
        foreach (var t in layout.Tensors)
        {
            var match = LayerPrefix.Match(t.Name);
            string k = match.Success ? match.Groups[1].Value : "outside:" + (key != null && key.StartsWith("outside:") ? key[8..] : t.Name);
            if (k != key)
            {
                if (key != null) units.Add(new ShardUnit(key.StartsWith("outside:") ? key[8..] : key, start, count));
                key = k; start = t.Offset; count = 0;
            }
            count += t.Count;
        }
        if (key != null) units.Add(new ShardUnit(key.StartsWith("outside:") ? key[8..] : key, start, count));
        return units;
    }
}
