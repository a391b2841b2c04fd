using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>Which device block an offloaded upload goes through: collectives that may be in flight at the same time
/// need blocks of their own.</summary>
enum UploadSlot
{
    /// <summary>A unit gathered when a layer needs it.</summary>
    OnDemand,
    /// <summary>A unit gathered ahead of its use (overlap), possibly in flight beside an on-demand one.</summary>
    Ahead,
    /// <summary>An fp32 buffer gathered whole (weights, moments, gradients for a checkpoint).</summary>
    Fp32,
}

/// <summary>
/// FSDP with CPU offload: the device blocks a unit's host block passes through, up as an all-gather's source and
/// down as a reduce-scatter's result, and the copies themselves (<see cref="OffloadTransfers"/>).
/// </summary>
sealed class OffloadStaging
{
    readonly OffloadTransfers transfers;
    readonly Slice<float> onDemand, ahead, fp32, host;

    /// <param name="gathered">How gathered parameters are stored: the uploads for gathers carry the shard the gathers
    /// move (its 16-bit copy under mixed precision).</param>
    /// <param name="overlap">Gathers run ahead of their use (<see cref="FsdpOptions.Overlap"/>): one more block.</param>
    public OffloadStaging(OffloadTransfers transfers, IBackend compute, IBackend shards, long largestBlock, StorageFormat gathered, bool overlap)
    {
        this.transfers = transfers;
        onDemand = HalfStorage.Allocate(compute, largestBlock, gathered, "FSDP unit block (uploaded)");
        if (overlap) ahead = HalfStorage.Allocate(compute, largestBlock, gathered, "FSDP unit block (uploaded ahead)");
        host = shards.Allocate<float>(largestBlock, "FSDP unit block (host)");
        // fp32 gathers need an fp32 block; in fp32 training the on-demand one is that already.
        fp32 = gathered == StorageFormat.Native ? onDemand : compute.Allocate<float>(largestBlock, "FSDP unit block (uploaded, fp32 gathers)");
    }

    /// <summary>Starts copying a host block up into the slot's device block and returns that block, ready as the
    /// source of a collective started after this call.</summary>
    public Slice<float> Upload(Slice<float> hostBlock, UploadSlot slot)
    {
        var staged = (slot switch { UploadSlot.OnDemand => onDemand, UploadSlot.Ahead => ahead, _ => fp32 }).Sub(0, hostBlock.Length);
        transfers.Upload(hostBlock, staged);
        return staged;
    }

    /// <summary>Copies a device block down and returns its host copy, readable at once.</summary>
    public Slice<float> Download(Slice<float> deviceBlock)
    {
        var copy = host.Sub(0, deviceBlock.Length);
        transfers.Download(deviceBlock, copy);
        return copy;
    }
}
