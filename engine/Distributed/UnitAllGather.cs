using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// FSDP's all-gather of one unit: every rank's block of it, from a sharded buffer (the parameter shard or its
/// 16-bit copy, the masters, the moments), into a buffer of the whole unit on the compute device; with CPU offload
/// each rank's block is uploaded first.
/// </summary>
sealed class UnitAllGather(ICommunicator group, ShardPlan plan, OffloadStaging? offload)
{
    public IPendingCollective Start(Slice<float> local, int unit, Slice<float> destination, UploadSlot slot)
    {
        var block = local.Sub(plan.LocalOffsets[unit], plan.BlockSizes[unit]);
        if (offload is not null) block = offload.Upload(block, slot);
        return group.StartAllGather(block, destination);
    }
}
