using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Between full host values in the model's flat layout (initialisation and checkpoints hold full tensors, so any
/// world size loads them) and a buffer sharded as FSDP shards (weights, masters, moments, gradients).
/// </summary>
sealed class ShardedFullValues(IBackend compute, IBackend shards, int groupRank, ShardPlan plan, ParameterLayout layout, UnitAllGather allGather)
{
    /// <summary>This rank's shard of full host values into <paramref name="local"/> (every rank reads the same full values).</summary>
    public void Load(ReadOnlySpan<float> full, Slice<float> local)
    {
        var mine = new float[plan.LocalCount];
        plan.TakeShard(full, mine, groupRank);
        shards.CopyIn<float>(mine, local);
    }

    /// <summary>Every unit of a sharded fp32 buffer gathered into full host values, on every rank of the group
    /// (collective).</summary>
    public void Gather(Slice<float> local, Span<float> full)
    {
        if (full.Length != layout.Count) throw new ArgumentException($"a full buffer holds {layout.Count} elements, not {full.Length}");
        for (int u = 0; u < plan.Units.Count; u++)
        {
            var unit = plan.Units[u];
            var buffer = compute.Allocate<float>(plan.PaddedCount(u), "gathered unit (checkpoint)");
            try
            {
                allGather.Start(local, u, buffer, UploadSlot.Fp32).Wait();
                compute.CopyOut(buffer.Sub(0, unit.Count), full.Slice((int)unit.Start, (int)unit.Count));
            }
            finally { compute.Free(buffer); }
        }
    }
}
