using Engine.Backends.Cpu;
using Engine.Layers;
using Engine.Optim;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// FSDP's parameter store. Each rank keeps 1/F of the parameters and of their gradients (its block of every unit,
/// <see cref="ShardPlan"/>); a layer's first touch of a unit's parameter all-gathers the unit, its first touch of a
/// unit's gradient opens a zeroed unit-sized buffer. Units leave least-recently-used first when more than
/// <see cref="FsdpOptions.UnitsInFlight"/> are held: leaving parameters are simply freed, leaving gradients are
/// reduce-scattered (then all-reduced across replica groups) and added into the local gradient shard, so a unit
/// touched twice in one backward (a tied table) is summed correctly. Every rank touches the same units in the same
/// order (the same model and shapes), which is what makes the collectives line up.
/// With <see cref="FsdpOptions.Overlap"/> the store also remembers the order in which the last forward and backward
/// pass gathered units and starts gathering the next one as soon as its predecessor is gathered, and leaves a unit's gradient
/// reduce-scatter running until the next unit's gradients leave (or backward ends): one unit of each in flight
/// beyond <see cref="FsdpOptions.UnitsInFlight"/>. A wrong guess (a validation pass, generation) costs only
/// the wasted gather: the unit is freed and the needed one gathered on demand, the same on every rank.
/// Under mixed precision (a compute backend whose <see cref="IBackend.ValueStorage"/> is 16-bit) the shards
/// are the fp32 master weights and fp32 gradient sums, kept and updated on the fp32 backend underneath, beside a 16-bit
/// copy of the parameter shard that AdamW writes in the same pass (<see cref="IBackend.AdamWMixed"/>): the gathers move
/// that copy (half the bytes of fp32) into 16-bit units, which the layers read as they read an unsharded model's
/// 16-bit weights. Gradients stay fp32 (reduce-scattered in fp32, as DDP all-reduces them).
/// </summary>
public sealed class FullyShardedParameters : IParameterStore, IDisposable
{
    readonly IBackend compute;
    readonly IBackend shards;
    readonly ICommunicator group;
    readonly ICommunicator? replicas;
    readonly bool ownsGroup;
    readonly FsdpOptions options;
    readonly ParameterLayout layout;
    readonly List<(int Unit, Slice<float> Buffer)> gatheredParameters = new(), openGradients = new();
    // A unit's block on the compute device, the reduce-scatter's destination.
    readonly Slice<float> scatterBlock;
    // With CPU offload: a unit's block uploaded from the host shard as the all-gather's source (one for gathers on
    // demand, one for the prefetch, which may be in flight at the same time), and the reduce-scatter result downloaded.
    readonly Slice<float> demandUpload, prefetchUpload, hostBlock;
    // With CPU offload under mixed precision: an fp32 upload block for GatherFull (the masters, the moments), as the
    // gathers' own carry the 16-bit copy. Without mixed precision GatherFull uses demandUpload.
    readonly Slice<float> checkpointUpload;
    readonly OffloadTransfers? transfers;
    // Mixed precision: the 16-bit copy of the parameter shard the gathers move, and the storage of gathered units.
    readonly Slice<float> localHalf;
    readonly StorageFormat gathered;
    bool keepParameters;
    long gatheredBytes, openGradientBytes;

    // Overlap: the unit being gathered ahead of its use, and the unit whose reduce-scatter is in flight.
    (int Unit, Slice<float> Buffer, IPendingCollective Gathering)? prefetched;
    (int Unit, Slice<float> Buffer, IPendingCollective Scattering)? scattering;
    // The units gathered in the last forward (0) and backward (1) pass, in order, and how far this pass has gone:
    // the next unit is guessed by position, since a unit may come twice in one pass (a tied table at both ends).
    // backward = the pass has opened a gradient since BeginForward.
    readonly List<int>[] passOrder = [new(), new()];
    bool backward;
    int position;

    public ShardPlan Plan { get; }
    /// <summary>This rank's parameter and gradient shards (on <see cref="ShardBackend"/>).</summary>
    public Slice<float> LocalParameters { get; }
    public Slice<float> LocalGradients { get; }
    /// <summary>Where the shards live and AdamW runs: the compute backend, or the host with CPU offload.</summary>
    public IBackend ShardBackend => shards;
    public FsdpOptions Options => options;
    /// <summary>Ranks in this rank's sharding group, and its place there (its block of every unit).</summary>
    public int GroupSize => group.WorldSize;
    public int GroupRank => group.Rank;
    /// <summary>Replica groups (1 unless the sharding factor is below the world size).</summary>
    public int Replicas => replicas?.WorldSize ?? 1;
    /// <summary>The most bytes of gathered parameters / open gradients held at once, since creation.</summary>
    public long PeakGatheredParameterBytes { get; private set; }
    public long PeakOpenGradientBytes { get; private set; }
    /// <summary>Unit gathers since creation: started when the unit was needed, started ahead of it (overlap), and
    /// started ahead but dropped unused (a pass that went elsewhere than the last one did).</summary>
    public (long OnDemand, long Ahead, long Wasted) Gathers => (gathersOnDemand, gathersAhead, gathersWasted);
    long gathersOnDemand, gathersAhead, gathersWasted;

    /// <param name="transfers">With CPU offload, how blocks move between the host shards and the device
    /// (<see cref="OffloadTransfers.For"/> the run's backends); unused without it.</param>
    public FullyShardedParameters(IBackend compute, ICommunicator world, ParameterLayout layout, FsdpOptions options, OffloadTransfers? transfers = null)
    {
        if (options.UnitsInFlight < 1) throw new ArgumentOutOfRangeException(nameof(options), "at least one unit in flight");
        this.compute = compute; this.layout = layout; this.options = options;
        int f = options.GroupSize(world.WorldSize);
        if (f == world.WorldSize) group = world;
        else
        {
            group = world.Split(world.Rank / f, world.Rank);
            replicas = world.Split(world.Rank % f, world.Rank);
            ownsGroup = true;
        }
        Plan = new ShardPlan(ShardPlan.UnitsOf(layout), group.WorldSize);
        if (options.CpuOffload)
            this.transfers = transfers ?? throw new ArgumentException("CPU offload moves blocks through the run's transfers (OffloadTransfers.For its backends)", nameof(transfers));
        shards = this.transfers?.CreateShardBackend() ?? compute.Fp32Backend;
        LocalParameters = shards.Allocate<float>(Plan.LocalCount, "parameter shard");
        LocalGradients = shards.Allocate<float>(Plan.LocalCount, "gradient shard");
        gathered = compute.ValueStorage;
        if (gathered != StorageFormat.Native) localHalf = HalfStorage.Allocate(shards, Plan.LocalCount, gathered, "parameter shard (16-bit copy)");
        long largestBlock = Plan.BlockSizes.Max();
        scatterBlock = compute.Allocate<float>(largestBlock, "FSDP unit block");
        if (options.CpuOffload)
        {
            // The gathers' uploads carry the parameter shard the gathers move (the 16-bit copy under mixed precision).
            demandUpload = HalfStorage.Allocate(compute, largestBlock, gathered, "FSDP unit block (uploaded)");
            if (options.Overlap) prefetchUpload = HalfStorage.Allocate(compute, largestBlock, gathered, "FSDP unit block (uploaded ahead)");
            hostBlock = shards.Allocate<float>(largestBlock, "FSDP unit block (host)");
            checkpointUpload = gathered == StorageFormat.Native ? demandUpload : compute.Allocate<float>(largestBlock, "FSDP unit block (uploaded, fp32 gathers)");
        }
        // The blocks' zero-fill is queued on the compute stream, their first upload on the communication stream.
        compute.Synchronize();
    }

    /// <summary>AdamW over this rank's shard: the owned parts of each tensor, on the shard backend; under mixed
    /// precision on the fp32 masters, writing their 16-bit copy in the same pass.</summary>
    public AdamWOptimizer CreateOptimizer(AdamWSettings settings)
    {
        var segments = Plan.LocalSegments(layout, group.Rank, settings);
        return localHalf.IsEmpty ? new(shards, segments, LocalParameters, LocalGradients, settings)
            : new(shards, segments, LocalParameters, localHalf, LocalGradients, settings);
    }

    /// <summary>What the parameter gathers read: the shard itself, or its 16-bit copy under mixed precision.</summary>
    Slice<float> GatherSource => localHalf.IsEmpty ? LocalParameters : localHalf;

    /// <summary>Bytes of the 16-bit copy of the parameter shard (0 in fp32).</summary>
    public long HalfParameterBytes => localHalf.Bytes;

    public Slice<float> Parameter(ParameterInfo p)
    {
        int u = UnitOf(p);
        var buffer = Find(gatheredParameters, u);
        if (buffer.IsEmpty)
        {
            if (!keepParameters) MakeRoom(gatheredParameters, releaseGradients: false);
            buffer = TakePrefetched(u);
            if (buffer.IsEmpty)
            {
                buffer = AllocateGathered(u);
                StartGather(GatherSource, u, buffer, demandUpload).Wait();
                gathersOnDemand++;
            }
            gatheredParameters.Add((u, buffer));
            Follow(u);
        }
        else Touch(gatheredParameters, u);
        return buffer.Sub(p.Offset - Plan.Units[u].Start, p.Count);
    }

    public Slice<float> Gradient(ParameterInfo p)
    {
        if (!backward)
        {
            backward = true;
            StartPass();
        }
        int u = UnitOf(p);
        var buffer = Find(openGradients, u);
        if (buffer.IsEmpty)
        {
            MakeRoom(openGradients, releaseGradients: true);
            buffer = compute.Allocate<float>(PaddedCount(u), "unit gradients"); // zero-filled: backward ops accumulate
            openGradients.Add((u, buffer));
            openGradientBytes += buffer.Bytes;
            PeakOpenGradientBytes = Math.Max(PeakOpenGradientBytes, openGradientBytes);
        }
        else Touch(openGradients, u);
        return buffer.Sub(p.Offset - Plan.Units[u].Start, p.Count);
    }

    /// <summary>A forward pass starts: units left from an earlier pass are let go; with ReshardAfterForward false the
    /// ones this pass gathers stay until <see cref="EndBackward"/>.</summary>
    public void BeginForward()
    {
        ReleaseAll();
        keepParameters = !options.ReshardAfterForward;
        backward = false;
        StartPass();
    }

    /// <summary>A backward pass ended: every open gradient is reduce-scattered into the shard, gathered units freed.</summary>
    public void EndBackward()
    {
        keepParameters = false;
        ReleaseAll();
    }

    void ReleaseAll()
    {
        while (openGradients.Count > 0) Release(openGradients, 0, releaseGradients: true);
        FinishScatter();
        DropPrefetched();
        while (gatheredParameters.Count > 0) Release(gatheredParameters, 0, releaseGradients: false);
    }

    // ---- overlap: gathering ahead, scattering behind ------------------------------------------------------------

    List<int> Order => passOrder[backward ? 1 : 0];

    void StartPass()
    {
        position = 0;
        Prefetch(Order.Count > 0 ? Order[0] : -1);
    }

    /// <summary>Unit u was just gathered: note it at this place in the pass (forgetting the rest of the last pass's
    /// order when it went elsewhere), and start gathering what came next last time.</summary>
    void Follow(int u)
    {
        var order = Order;
        if (position < order.Count && order[position] != u) order.RemoveRange(position, order.Count - position);
        if (position == order.Count) order.Add(u);
        position++;
        Prefetch(position < order.Count ? order[position] : -1);
    }

    void Prefetch(int u)
    {
        if (!options.Overlap || u < 0 || prefetched is not null || !Find(gatheredParameters, u).IsEmpty) return;
        var buffer = AllocateGathered(u);
        prefetched = (u, buffer, StartGather(GatherSource, u, buffer, prefetchUpload));
        gathersAhead++;
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
        gathersWasted++;
        gatheredBytes -= p.Buffer.Bytes;
        compute.Free(p.Buffer);
    }

    Slice<float> AllocateGathered(int u)
    {
        var buffer = HalfStorage.Allocate(compute, PaddedCount(u), gathered, "gathered unit parameters");
        gatheredBytes += buffer.Bytes;
        PeakGatheredParameterBytes = Math.Max(PeakGatheredParameterBytes, gatheredBytes);
        return buffer;
    }

    public void ZeroGradients() => shards.Zero(LocalGradients);

    /// <summary>Σ g² over the whole model: this rank's shard summed over its group (replica groups hold the same).</summary>
    public double GradientSumOfSquares()
    {
        Span<double> sum = [shards.SumOfSquares(LocalGradients)];
        group.AllReduceSum(sum);
        return sum[0];
    }

    public void ScaleGradients(float factor) => shards.Scale(LocalGradients, factor);

    /// <summary>Loads full host values (initialisation, a checkpoint) into this rank's shard of <paramref name="local"/>.</summary>
    public void LoadFull(ReadOnlySpan<float> full, Slice<float> local)
    {
        var mine = new float[Plan.LocalCount];
        Plan.TakeShard(full, mine, group.Rank);
        shards.CopyIn<float>(mine, local);
        // New weights: their 16-bit copy follows (as AdamW writes it after every update).
        if (!localHalf.IsEmpty && local.Address == LocalParameters.Address)
            shards.CastToHalf(HalfStorage.Bits(localHalf), LocalParameters, HalfStorage.FormatOf(localHalf));
    }

    /// <summary>Every unit of a sharded fp32 buffer (the masters, Adam's moments) gathered into full host values, on
    /// every rank of the group (collective).</summary>
    public void GatherFull(Slice<float> local, Span<float> full)
    {
        if (full.Length != layout.Count) throw new ArgumentException($"a full buffer holds {layout.Count} elements, not {full.Length}");
        for (int u = 0; u < Plan.Units.Count; u++)
        {
            var unit = Plan.Units[u];
            var buffer = compute.Allocate<float>(PaddedCount(u), "gathered unit (checkpoint)");
            try
            {
                StartGather(local, u, buffer, checkpointUpload).Wait();
                compute.CopyOut(buffer.Sub(0, unit.Count), full.Slice((int)unit.Start, (int)unit.Count));
            }
            finally { compute.Free(buffer); }
        }
    }

    int UnitOf(ParameterInfo p)
    {
        int u = Plan.UnitAt(p.Offset);
        var unit = Plan.Units[u];
        if (p.Offset + p.Count > unit.Start + unit.Count)
            throw new InvalidOperationException($"tensor {p.Name} crosses FSDP units ({unit.Name} ends at {unit.Start + unit.Count})");
        return u;
    }

    long PaddedCount(int u) => Plan.BlockSizes[u] * Plan.Shards;

    /// <summary>Starts unit u's all-gather from a sharded buffer into destination (through an upload when offloaded).</summary>
    IPendingCollective StartGather(Slice<float> local, int u, Slice<float> destination, Slice<float> upload)
    {
        var block = local.Sub(Plan.LocalOffsets[u], Plan.BlockSizes[u]);
        if (transfers is not null)
        {
            var staged = upload.Sub(0, block.Length);
            transfers.Upload(block, staged);
            block = staged;
        }
        return group.StartAllGather(block, destination);
    }

    /// <summary>Starts the reduce-scatter of a unit's gradients (Σ over the group, this rank's block kept); with
    /// overlap it runs until the next one starts or backward ends, else it is finished at once.</summary>
    void StartScatter(int u, Slice<float> unitGradients)
    {
        FinishScatter(); // one scatter block: the previous result must be in the shard before it is reused
        var pending = group.StartReduceScatterSum(unitGradients, scatterBlock.Sub(0, Plan.BlockSizes[u]));
        scattering = (u, unitGradients, pending);
        if (!options.Overlap) FinishScatter();
    }

    /// <summary>The reduce-scatter in flight completes: all-reduced across replica groups, added into the local
    /// gradient shard (downloaded first when offloaded), and the unit's gradient buffer freed.</summary>
    void FinishScatter()
    {
        if (scattering is not { } s) return;
        scattering = null;
        s.Scattering.Wait();
        long size = Plan.BlockSizes[s.Unit];
        var block = scatterBlock.Sub(0, size);
        // Started and waited rather than AllReduceSum: on GPUs this keeps every NCCL call of the store on the
        // communication stream, in one order (two communicators' kernels running at once may deadlock), and before
        // the offload download queued there after it.
        replicas?.StartAllReduceSum(block).Wait();
        var local = LocalGradients.Sub(Plan.LocalOffsets[s.Unit], size);
        if (transfers is null) shards.Accumulate(local, block); // on the device, fp32 (not the 16-bit rounding layer)
        else
        {
            var host = hostBlock.Sub(0, size);
            transfers.Download(block, host);
            shards.Accumulate(local, host);
        }
        openGradientBytes -= s.Buffer.Bytes;
        compute.Free(s.Buffer);
    }

    static Slice<float> Find(List<(int Unit, Slice<float> Buffer)> held, int u)
    {
        foreach (var (unit, buffer) in held) if (unit == u) return buffer;
        return default;
    }

    /// <summary>Moves unit u to the most-recently-used end.</summary>
    static void Touch(List<(int Unit, Slice<float> Buffer)> held, int u)
    {
        if (held[^1].Unit == u) return;
        int i = held.FindIndex(h => h.Unit == u);
        var entry = held[i];
        held.RemoveAt(i);
        held.Add(entry);
    }

    void MakeRoom(List<(int Unit, Slice<float> Buffer)> held, bool releaseGradients)
    {
        while (held.Count >= options.UnitsInFlight) Release(held, 0, releaseGradients);
    }

    void Release(List<(int Unit, Slice<float> Buffer)> held, int index, bool releaseGradients)
    {
        var (u, buffer) = held[index];
        held.RemoveAt(index);
        if (releaseGradients) StartScatter(u, buffer); // frees the buffer when the scatter finishes
        else
        {
            gatheredBytes -= buffer.Bytes;
            compute.Free(buffer);
        }
    }

    public void Dispose()
    {
        foreach (var (_, b) in gatheredParameters) compute.Free(b);
        foreach (var (_, b) in openGradients) compute.Free(b);
        gatheredParameters.Clear(); openGradients.Clear();
        // A prefetch or scatter still in flight here means the run is failing: its buffers go with the compute
        // backend rather than being freed under a collective that may still write them.
        prefetched = null; scattering = null;
        if (transfers is not null) shards.Dispose(); // offloaded shards are on a host backend of their own
        if (ownsGroup) { group.Dispose(); replicas?.Dispose(); }
    }
}
