using Engine.Backends.Cpu;
using Engine.Layers;
using Engine.Optim;
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
/// </summary>
public sealed class FullyShardedParameters : IParameterStore, IDisposable
{
    readonly IBackend compute;
    readonly IBackend shards;
    readonly bool ownsShardBackend;
    readonly ICommunicator group;
    readonly ICommunicator? replicas;
    readonly bool ownsGroup;
    readonly FsdpOptions options;
    readonly ParameterLayout layout;
    readonly List<(int Unit, Slice<float> Buffer)> gatheredParameters = new(), openGradients = new();
    // A unit's block on the compute device: the all-gather's source when shards live on the host, and the
    // reduce-scatter's destination.
    readonly Slice<float> deviceBlock;
    // The reduce-scatter result copied to the host when shards live there.
    readonly Slice<float> hostBlock;
    bool keepParameters;
    long gatheredBytes, openGradientBytes;

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

    public FullyShardedParameters(IBackend compute, ICommunicator world, ParameterLayout layout, FsdpOptions options)
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
        ownsShardBackend = options.CpuOffload;
        shards = options.CpuOffload ? new CpuBackend() : compute;
        LocalParameters = shards.Allocate<float>(Plan.LocalCount, "parameter shard");
        LocalGradients = shards.Allocate<float>(Plan.LocalCount, "gradient shard");
        long largestBlock = Plan.BlockSizes.Max();
        deviceBlock = compute.Allocate<float>(largestBlock, "FSDP unit block");
        if (options.CpuOffload) hostBlock = shards.Allocate<float>(largestBlock, "FSDP unit block (host)");
    }

    /// <summary>AdamW over this rank's shard: the owned parts of each tensor, on the shard backend.</summary>
    public AdamWOptimizer CreateOptimizer(AdamWSettings settings) =>
        new(shards, Plan.LocalSegments(layout, group.Rank, settings), LocalParameters, LocalGradients, settings);

    public Slice<float> Parameter(ParameterInfo p)
    {
        int u = UnitOf(p);
        var buffer = Find(gatheredParameters, u);
        if (buffer.IsEmpty)
        {
            if (!keepParameters) MakeRoom(gatheredParameters, releaseGradients: false);
            buffer = compute.Allocate<float>(PaddedCount(u), "gathered unit parameters");
            Gather(LocalParameters, u, buffer);
            gatheredParameters.Add((u, buffer));
            gatheredBytes += buffer.Bytes;
            PeakGatheredParameterBytes = Math.Max(PeakGatheredParameterBytes, gatheredBytes);
        }
        else Touch(gatheredParameters, u);
        return buffer.Sub(p.Offset - Plan.Units[u].Start, p.Count);
    }

    public Slice<float> Gradient(ParameterInfo p)
    {
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
        while (gatheredParameters.Count > 0) Release(gatheredParameters, 0, releaseGradients: false);
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
    }

    /// <summary>Every unit of a sharded buffer gathered into full host values, on every rank of the group (collective).</summary>
    public void GatherFull(Slice<float> local, Span<float> full)
    {
        if (full.Length != layout.Count) throw new ArgumentException($"a full buffer holds {layout.Count} elements, not {full.Length}");
        for (int u = 0; u < Plan.Units.Count; u++)
        {
            var unit = Plan.Units[u];
            var buffer = compute.Allocate<float>(PaddedCount(u), "gathered unit (checkpoint)");
            try
            {
                Gather(local, u, buffer);
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

    void Gather(Slice<float> local, int u, Slice<float> destination)
    {
        var block = local.Sub(Plan.LocalOffsets[u], Plan.BlockSizes[u]);
        if (shards != compute)
        {
            var staged = deviceBlock.Sub(0, block.Length);
            compute.CopyIn<float>(block.Span, staged);
            block = staged;
        }
        group.AllGather(block, destination);
    }

    /// <summary>Σ over every rank of a unit's gradients, this rank's block added into the local gradient shard.</summary>
    void ReduceScatter(int u, Slice<float> unitGradients)
    {
        long size = Plan.BlockSizes[u];
        var block = deviceBlock.Sub(0, size);
        group.ReduceScatterSum(unitGradients, block);
        replicas?.AllReduceSum(block);
        var local = LocalGradients.Sub(Plan.LocalOffsets[u], size);
        if (shards == compute) compute.Accumulate(local, block);
        else
        {
            var host = hostBlock.Sub(0, size);
            compute.CopyOut(block, host.Span);
            shards.Accumulate(local, host);
        }
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
        if (releaseGradients)
        {
            ReduceScatter(u, buffer);
            openGradientBytes -= buffer.Bytes;
        }
        else gatheredBytes -= buffer.Bytes;
        compute.Free(buffer);
    }

    public void Dispose()
    {
        foreach (var (_, b) in gatheredParameters) compute.Free(b);
        foreach (var (_, b) in openGradients) compute.Free(b);
        gatheredParameters.Clear(); openGradients.Clear();
        if (ownsShardBackend) shards.Dispose();
        if (ownsGroup) { group.Dispose(); replicas?.Dispose(); }
    }
}
