namespace Engine.Distributed;

/// <summary>How FSDP shards (the options of the fsdp strategy).</summary>
/// <param name="ReshardAfterForward">Free a unit's gathered parameters when forward leaves it and gather them again
/// for backward (ZeRO-3); false keeps forward's gathered parameters until backward is done (ZeRO-2-like: less
/// communication, the whole model's parameters in memory between forward and backward).</param>
/// <param name="ShardingFactor">Ranks in one sharding group (0 = the whole world). Smaller groups replicate the
/// shards across groups (hybrid sharding): gradients are reduce-scattered in the group, then all-reduced across
/// the replicas.</param>
/// <param name="CpuOffload">Keep the shards of parameters, gradients and AdamW moments in host memory and take the
/// optimizer step on the CPU.</param>
/// <param name="UnitsInFlight">Units whose parameters (and, separately, gradients) are held at once, least recently
/// used going first. It must be at least the most units one op reads tensors from, since a slice handed to an op must
/// stay valid until the op has run: BERT's tied head reads the word table (embeddings unit) and its own bias (the
/// head's unit) in one matrix product. 2 also lets T5's blocks read block 0's position bias without regathering.</param>
/// <param name="Overlap">Gather the unit that came next last time while the current one computes, and let a unit's
/// gradient reduce-scatter run until the next unit's gradients are done (with CPU offload, the copies too): one
/// more unit of parameters and one more of gradients in memory, in exchange for communication hidden behind
/// compute. Off, every collective completes before the op that needs it.</param>
public sealed record FsdpOptions(bool ReshardAfterForward = true, int ShardingFactor = 0, bool CpuOffload = false, int UnitsInFlight = 2, bool Overlap = true)
{
    /// <summary>The group size for a world: the factor, or the world when 0; refuses one that does not divide it.</summary>
    public int GroupSize(int worldSize)
    {
        if (ShardingFactor < 0) throw new EngineException(EngineOption.ShardingFactor, $"{EngineOption.ShardingFactor} {ShardingFactor}: must be positive (or 0 for the whole world)");
        int f = ShardingFactor == 0 ? worldSize : ShardingFactor;
        if (f > worldSize || worldSize % f != 0)
            throw new EngineException(EngineOption.ShardingFactor, $"{EngineOption.ShardingFactor} {f} does not divide the world size {worldSize}: choose a divisor of {worldSize} (ranks per sharding group)");
        return f;
    }
}
