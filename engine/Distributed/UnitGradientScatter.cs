using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// FSDP's gradients on their way into the local shard: a layer's first touch of a unit's gradient opens a zeroed
/// unit-sized buffer; open units leave least-recently-used first when more than <see cref="FsdpOptions.UnitsInFlight"/>
/// are open, and a leaving unit is reduce-scattered over the sharding group (then all-reduced across replica groups)
/// and added into the shard, so a unit opened twice in one backward (a tied table) is summed correctly. With
/// <see cref="FsdpOptions.Overlap"/> a unit's reduce-scatter runs until the next unit leaves (or backward ends).
/// Gradients stay fp32 throughout, as DDP all-reduces them.
/// </summary>
sealed class UnitGradientScatter
{
    readonly IBackend compute, shards;
    readonly ICommunicator group;
    readonly ICommunicator? replicas;
    readonly ShardPlan plan;
    readonly FsdpOptions options;
    readonly Slice<float> localGradients;
    readonly OffloadStaging? offload;
    // A unit's block on the compute device, the reduce-scatter's destination.
    readonly Slice<float> scatterBlock;
    readonly HeldUnits open = new();
    // Overlap: the unit whose reduce-scatter is in flight.
    (int Unit, Slice<float> Buffer, IPendingCollective Scattering)? scattering;
    long bytes;

    public UnitGradientScatter(IBackend compute, IBackend shards, ICommunicator group, ICommunicator? replicas, ShardPlan plan, FsdpOptions options,
        Slice<float> localGradients, OffloadStaging? offload)
    {
        this.compute = compute; this.shards = shards; this.group = group; this.replicas = replicas; this.plan = plan; this.options = options;
        this.localGradients = localGradients; this.offload = offload;
        scatterBlock = compute.Allocate<float>(plan.BlockSizes.Max(), "FSDP unit block");
    }

    /// <summary>The most bytes of open unit gradients held at once, since creation.</summary>
    public long PeakBytes { get; private set; }

    /// <summary>Unit u's gradient buffer (padded to whole blocks) to accumulate into, opened zeroed if it is not open.</summary>
    public Slice<float> Open(int u)
    {
        var buffer = open.Find(u);
        if (buffer.IsEmpty)
        {
            while (open.Count >= options.UnitsInFlight) Leave();
            buffer = compute.Allocate<float>(plan.PaddedCount(u), "unit gradients"); // zero-filled: backward ops accumulate
            open.Add(u, buffer);
            bytes += buffer.Bytes;
            PeakBytes = Math.Max(PeakBytes, bytes);
        }
        else open.Touch(u);
        return buffer;
    }

    /// <summary>Every open unit reduce-scattered into the shard, and the last scatter waited for.</summary>
    public void ScatterAll()
    {
        while (open.Count > 0) Leave();
        Finish();
    }

    void Leave()
    {
        var (u, buffer) = open.TakeOldest();
        Start(u, buffer); // frees the buffer when the scatter finishes
    }

    /// <summary>Starts the reduce-scatter of a unit's gradients (Σ over the group, this rank's block kept); with
    /// overlap it runs until the next one starts or backward ends, else it is finished at once.</summary>
    void Start(int u, Slice<float> unitGradients)
    {
        Finish(); // one scatter block: the previous result must be in the shard before it is reused
        var pending = group.StartReduceScatterSum(unitGradients, scatterBlock.Sub(0, plan.BlockSizes[u]));
        scattering = (u, unitGradients, pending);
        if (!options.Overlap) Finish();
    }

    /// <summary>The reduce-scatter in flight completes: all-reduced across replica groups, added into the local
    /// gradient shard (downloaded first when offloaded), and the unit's gradient buffer freed.</summary>
    void Finish()
    {
        if (scattering is not { } s) return;
        scattering = null;
        s.Scattering.Wait();
        long size = plan.BlockSizes[s.Unit];
        var block = scatterBlock.Sub(0, size);
        // Started and waited rather than AllReduceSum: on GPUs this keeps every NCCL call of the store on the
        // communication stream, in one order (two communicators' kernels running at once may deadlock), and before
        // the offload download queued there after it.
        replicas?.StartAllReduceSum(block).Wait();
        var local = localGradients.Sub(plan.LocalOffsets[s.Unit], size);
        // Added on the shard backend in fp32 (not through the 16-bit rounding layer), from a host copy when offloaded.
        shards.Accumulate(local, offload is null ? block : offload.Download(block));
        bytes -= s.Buffer.Bytes;
        compute.Free(s.Buffer);
    }

    /// <summary>Frees the open units. A scatter still in flight here means the run is failing: its buffer goes with
    /// the compute backend rather than being freed under a collective that may still write it.</summary>
    public void Abandon()
    {
        foreach (var buffer in open.Clear()) compute.Free(buffer);
        scattering = null;
    }
}
