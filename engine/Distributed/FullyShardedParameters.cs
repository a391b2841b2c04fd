using Engine.Layers;
using Engine.Optim;
using Engine.Parameters;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// FSDP's way of holding parameters. Each rank keeps 1/F of the parameters and of their gradients (its block of every
/// unit, <see cref="ShardPlan"/>) and, as the model's <see cref="IParameterStore"/>, hands layers whole tensors:
/// gathered on first touch and let go least-recently-used first (<see cref="UnitParameterGathers"/>), gradients
/// opened per unit and reduce-scattered into the shard as they leave (<see cref="UnitGradientScatter"/>). Every
/// rank touches the same units in the same order (the same model and shapes), which is what makes the collectives
/// line up. With a sharding factor below the world size the groups hold replicas (hybrid sharding); with CPU
/// offload the shards and AdamW live on the host and blocks pass through <see cref="OffloadStaging"/>.
/// Under mixed precision (a compute backend whose <see cref="IBackend.ValueStorage"/> is 16-bit) the shards are the
/// fp32 master weights and fp32 gradient sums, kept and updated on the fp32 backend underneath, beside a 16-bit copy
/// of the parameter shard that AdamW writes in the same pass (<see cref="MasterAdamWWeights"/>): the gathers move that
/// copy (half the bytes of fp32) into 16-bit units, which the layers read as they read an unsharded model's 16-bit
/// weights. Gradients stay fp32 (reduce-scattered in fp32, as DDP all-reduces them).
/// </summary>
public sealed class FullyShardedParameters : IParameterState, IParameterStore
{
    readonly IBackend shards;
    readonly ICommunicator group;
    readonly ICommunicator? replicas;
    readonly bool ownsGroup, ownsShardBackend;
    readonly ParameterLayout layout;
    // Mixed precision: the 16-bit copy of the parameter shard the gathers move (empty in fp32).
    readonly Slice<float> localHalf;
    readonly UnitParameterGathers gathers;
    readonly UnitGradientScatter scatter;
    readonly ShardedFullValues fullValues;

    public ShardPlan Plan { get; }
    /// <summary>This rank's parameter and gradient shards (on <see cref="ShardBackend"/>); the fp32 masters under
    /// mixed precision.</summary>
    public Slice<float> LocalParameters { get; }
    public Slice<float> LocalGradients { get; }
    /// <summary>Where the shards live and AdamW runs: the fp32 backend under the compute one, or the host with CPU offload.</summary>
    public IBackend ShardBackend => shards;
    public FsdpOptions Options { get; }
    /// <summary>Ranks in this rank's sharding group, and its place there (its block of every unit).</summary>
    public int GroupSize => group.WorldSize;
    public int GroupRank => group.Rank;
    /// <summary>Replica groups (1 unless the sharding factor is below the world size).</summary>
    public int Replicas => replicas?.WorldSize ?? 1;
    /// <summary>The most bytes of gathered parameters / open gradients held at once, since creation.</summary>
    public long PeakGatheredParameterBytes => gathers.PeakBytes;
    public long PeakOpenGradientBytes => scatter.PeakBytes;
    /// <summary>Unit gathers since creation: started when the unit was needed, started ahead of it (overlap), and
    /// started ahead but dropped unused (a pass that went elsewhere than the last one did).</summary>
    public (long OnDemand, long Ahead, long Wasted) Gathers => gathers.Counts;

    public Slice<float> Weights => LocalParameters;
    public Slice<float> Gradients => LocalGradients;
    public IParameterStore Store => this;
    public bool IsCollective => true;

    /// <param name="transfers">With CPU offload, how blocks move between the host shards and the device
    /// (<see cref="OffloadTransfers.For"/> the run's backends); unused without it.</param>
    public FullyShardedParameters(IBackend compute, ICommunicator world, ParameterLayout layout, FsdpOptions options, OffloadTransfers? transfers = null)
    {
        if (options.UnitsInFlight < 1) throw new ArgumentOutOfRangeException(nameof(options), "at least one unit in flight");
        this.layout = layout; Options = options;
        int f = options.GroupSize(world.WorldSize);
        if (f == world.WorldSize) group = world;
        else
        {
            group = world.Split(world.Rank / f, world.Rank);
            replicas = world.Split(world.Rank % f, world.Rank);
            ownsGroup = true;
        }
        Plan = new ShardPlan(ShardPlan.UnitsOf(layout), group.WorldSize);
        if (options.CpuOffload && transfers is null)
            throw new ArgumentException("CPU offload moves blocks through the run's transfers (OffloadTransfers.For its backends)", nameof(transfers));
        ownsShardBackend = options.CpuOffload;
        shards = options.CpuOffload ? transfers!.CreateShardBackend() : compute.Fp32Backend;
        LocalParameters = shards.Allocate<float>(Plan.LocalCount, "parameter shard");
        LocalGradients = shards.Allocate<float>(Plan.LocalCount, "gradient shard");
        var gathered = compute.ValueStorage;
        if (gathered != StorageFormat.Native) localHalf = HalfStorage.Allocate(shards, Plan.LocalCount, gathered, "parameter shard (16-bit copy)");
        var offload = options.CpuOffload ? new OffloadStaging(transfers!, compute, shards, Plan.BlockSizes.Max(), gathered, options.Overlap) : null;
        var allGather = new UnitAllGather(group, Plan, offload);
        gathers = new UnitParameterGathers(compute, Plan, options, allGather, localHalf.IsEmpty ? LocalParameters : localHalf, gathered);
        scatter = new UnitGradientScatter(compute, shards, group, replicas, Plan, options, LocalGradients, offload);
        fullValues = new ShardedFullValues(compute, shards, group.Rank, Plan, layout, allGather);
        // The blocks' zero-fill is queued on the compute stream, their first upload on the communication stream.
        compute.Synchronize();
    }

    /// <summary>AdamW over this rank's shard: the owned parts of each tensor, on the shard backend; under mixed
    /// precision on the fp32 masters, writing their 16-bit copy in the same pass.</summary>
    public AdamWOptimizer CreateOptimizer(AdamWSettings settings)
    {
        var segments = Plan.LocalPieces(layout, group.Rank, settings);
        AdamWWeights weights = localHalf.IsEmpty ? new Fp32AdamWWeights(LocalParameters) : new MasterAdamWWeights(LocalParameters, localHalf);
        return new AdamWOptimizer(shards, segments, weights, LocalGradients, settings);
    }

    public Slice<float> Parameter(ParameterInfo p)
    {
        int u = UnitOf(p);
        return gathers.Get(u).Sub(p.Offset - Plan.Units[u].Start, p.Count);
    }

    public Slice<float> Gradient(ParameterInfo p)
    {
        if (!gathers.InBackward) gathers.StartBackward();
        int u = UnitOf(p);
        return scatter.Open(u).Sub(p.Offset - Plan.Units[u].Start, p.Count);
    }

    /// <summary>A forward pass starts: units left from an earlier pass are let go; with ReshardAfterForward false the
    /// ones this pass gathers stay until <see cref="EndBackward"/>.</summary>
    public void BeginForward()
    {
        ReleaseAll();
        gathers.StartForward(keepUntilReleased: !Options.ReshardAfterForward);
    }

    /// <summary>A backward pass ended: every open gradient is reduce-scattered into the shard, gathered units freed.</summary>
    public void EndBackward()
    {
        gathers.StopKeeping();
        ReleaseAll();
    }

    void ReleaseAll()
    {
        scatter.ScatterAll();
        gathers.ReleaseAll();
    }

    public void ZeroGradients() => shards.Zero(LocalGradients);

    /// <summary>Divides the loss scale out of the shard without looking for inf/NaN: a shard's shows in the group's
    /// Σ g² (<see cref="GradientSumOfSquares"/>), so every rank agrees on skipping the step.</summary>
    public bool UnscaleGradients(float lossScale)
    {
        shards.Scale(LocalGradients, 1f / lossScale);
        return true;
    }

    /// <summary>Σ g² over the whole model: this rank's shard summed over its group (replica groups hold the same).</summary>
    public double GradientSumOfSquares()
    {
        Span<double> sum = [shards.SumOfSquares(LocalGradients)];
        group.AllReduceSum(sum);
        return sum[0];
    }

    /// <summary>Σ w² over the whole model's fp32 weights: this rank's shard summed over its group.</summary>
    public double WeightSumOfSquares()
    {
        Span<double> sum = [shards.SumOfSquares(LocalParameters)];
        group.AllReduceSum(sum);
        return sum[0];
    }

    public void ScaleGradients(float factor) => shards.Scale(LocalGradients, factor);

    public void LoadWeights(ReadOnlySpan<float> full)
    {
        fullValues.Load(full, LocalParameters);
        // New weights: their 16-bit copy follows (as AdamW writes it after every update).
        if (!localHalf.IsEmpty) HalfStorage.Narrow(shards, LocalParameters, localHalf);
    }

    public void GatherWeights(Span<float> full) => fullValues.Gather(LocalParameters, full);
    public void GatherGradients(Span<float> full) => fullValues.Gather(LocalGradients, full);
    public void LoadOptimizerState(ReadOnlySpan<float> full, Slice<float> buffer) => fullValues.Load(full, buffer);
    public void GatherOptimizerState(Slice<float> buffer, Span<float> full) => fullValues.Gather(buffer, full);

    /// <summary>The shards, with the 16-bit copy counted as the parameters and the fp32 shard as the master weights
    /// under mixed precision; everything on the host counted as offloaded too.</summary>
    public ModelStateBytes MeasureModelStates(AdamWOptimizer optimizer)
    {
        long moments = optimizer.MomentBytes;
        long parameters = localHalf.IsEmpty ? LocalParameters.Bytes : localHalf.Bytes, master = localHalf.IsEmpty ? 0 : LocalParameters.Bytes;
        long offloaded = Options.CpuOffload ? parameters + master + LocalGradients.Bytes + moments : 0;
        return new ModelStateBytes(parameters, LocalGradients.Bytes, moments, PeakGatheredParameterBytes, PeakOpenGradientBytes, offloaded, master);
    }

    int UnitOf(ParameterInfo p)
    {
        int u = Plan.UnitAt(p.Offset);
        var unit = Plan.Units[u];
        if (p.Offset + p.Count > unit.Start + unit.Count)
            throw new InvalidOperationException($"tensor {p.Name} crosses FSDP units ({unit.Name} ends at {unit.Start + unit.Count})");
        return u;
    }

    public void Dispose()
    {
        gathers.Abandon();
        scatter.Abandon();
        if (ownsShardBackend) shards.Dispose(); // offloaded shards are on a host backend of their own
        if (ownsGroup) { group.Dispose(); replicas?.Dispose(); }
    }
}
