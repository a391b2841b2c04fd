using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// FSDP's gathered parameters: a layer's first touch of a unit's parameter all-gathers the unit into a buffer of its
/// own; units leave least-recently-used first when more than <see cref="FsdpOptions.UnitsInFlight"/> are held (or,
/// kept from forward to backward, when the store lets them go). With <see cref="FsdpOptions.Overlap"/> the unit that
/// came next in the last pass of the same kind is gathered ahead while the current one computes; a wrong guess (a
/// validation pass, generation) costs only the wasted gather: it is dropped and the needed unit gathered on demand,
/// the same on every rank.
/// </summary>
sealed class UnitParameterGathers
{
    readonly IBackend compute;
    readonly ShardPlan plan;
    readonly FsdpOptions options;
    readonly UnitAllGather allGather;
    // What the gathers read: the parameter shard, or its 16-bit copy under mixed precision; and how units are stored.
    readonly Slice<float> source;
    readonly StorageFormat storage;
    readonly HeldUnits held = new();
    readonly UnitPassOrder order = new();
    // Overlap: the unit being gathered ahead of its use.
    (int Unit, Slice<float> Buffer, IPendingCollective Gathering)? prefetched;
    bool keep;
    long bytes;
    long onDemand, ahead, wasted;

    public UnitParameterGathers(IBackend compute, ShardPlan plan, FsdpOptions options, UnitAllGather allGather, Slice<float> source, StorageFormat storage)
    {
        this.compute = compute; this.plan = plan; this.options = options; this.allGather = allGather; this.source = source; this.storage = storage;
    }

    /// <summary>The most bytes of gathered parameters held at once, since creation.</summary>
    public long PeakBytes { get; private set; }
    /// <summary>Gathers started when the unit was needed, started ahead of it, and started ahead but dropped unused.</summary>
    public (long OnDemand, long Ahead, long Wasted) Counts => (onDemand, ahead, wasted);
    public bool InBackward => order.InBackward;

    /// <summary>Unit u's gathered parameters (padded to whole blocks), gathering it if it is not held.</summary>
    public Slice<float> Get(int u)
    {
        var buffer = held.Find(u);
        if (buffer.IsEmpty)
        {
            if (!keep) MakeRoom();
            buffer = TakePrefetched(u);
            if (buffer.IsEmpty)
            {
                buffer = Allocate(u);
                allGather.Start(source, u, buffer, UploadSlot.OnDemand).Wait();
                onDemand++;
            }
            held.Add(u, buffer);
            Prefetch(order.Follow(u));
        }
        else held.Touch(u);
        return buffer;
    }

    /// <summary>A forward pass starts; with <paramref name="keepUntilReleased"/> the units it gathers stay until
    /// <see cref="StopKeeping"/> (ReshardAfterForward false).</summary>
    public void StartForward(bool keepUntilReleased)
    {
        keep = keepUntilReleased;
        Prefetch(order.Start(backward: false));
    }

    /// <summary>The backward pass starts (its first gradient was asked for).</summary>
    public void StartBackward() => Prefetch(order.Start(backward: true));

    public void StopKeeping() => keep = false;

    /// <summary>Drops a gather in flight and frees every held unit.</summary>
    public void ReleaseAll()
    {
        DropPrefetched();
        while (held.Count > 0) Free(held.TakeOldest().Buffer);
    }

    void MakeRoom()
    {
        while (held.Count >= options.UnitsInFlight) Free(held.TakeOldest().Buffer);
    }

    void Prefetch(int u)
    {
        if (!options.Overlap || u < 0 || prefetched is not null || !held.Find(u).IsEmpty) return;
        var buffer = Allocate(u);
        prefetched = (u, buffer, allGather.Start(source, u, buffer, UploadSlot.Ahead));
        ahead++;
    }

    /// <summary>The prefetched buffer when it holds unit u (waited for), else empty; a prefetch of another unit is dropped.</summary>
    Slice<float> TakePrefetched(int u)
    {
        if (prefetched is not { } p) return default;
        if (p.Unit != u) { DropPrefetched(); return default; }
        prefetched = null;
        p.Gathering.Wait();
        return p.Buffer;
    }

    void DropPrefetched()
    {
        if (prefetched is not { } p) return;
        prefetched = null;
        p.Gathering.Wait(); // the collective must be done with the buffer before it is freed (and it is, on every rank)
        wasted++;
        Free(p.Buffer);
    }

    Slice<float> Allocate(int u)
    {
        var buffer = HalfStorage.Allocate(compute, plan.PaddedCount(u), storage, "gathered unit parameters");
        bytes += buffer.Bytes;
        PeakBytes = Math.Max(PeakBytes, bytes);
        return buffer;
    }

    void Free(Slice<float> buffer)
    {
        bytes -= buffer.Bytes;
        compute.Free(buffer);
    }

    /// <summary>Frees the held units. A prefetch still in flight here means the run is failing: its buffer goes with
    /// the compute backend rather than being freed under a collective that may still write it.</summary>
    public void Abandon()
    {
        foreach (var buffer in held.Clear()) compute.Free(buffer);
        prefetched = null;
    }
}
