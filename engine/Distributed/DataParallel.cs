using Engine.Layers;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// The data-parallel part of a training step (DDP and FSDP). Every rank reads the same global micro-batch (the data
/// position stays one global number, so checkpoints do not depend on the world size) and keeps its own block of rows.
/// Under DDP the last micro-step's gradients are summed over the ranks bucket by bucket, each bucket started as soon
/// as backward has finished writing it (<see cref="OverlappedAllReduce"/>); they are already scaled by 1/(targets in
/// the global batch), so the sum is the global mean. No communication happens on the other micro-steps. Every rank
/// then takes the same optimizer step, so the replicas stay identical. (FSDP reduce-scatters in its parameter store.)
/// </summary>
public sealed class DataParallel
{
    readonly ICommunicator comm;
    readonly OverlappedAllReduce reduction;

    public DataParallel(ICommunicator comm, ParameterLayout layout, long bucketBytes = GradientBuckets.DefaultBytes)
    {
        this.comm = comm;
        reduction = new OverlappedAllReduce(comm, GradientBuckets.Plan(layout, bucketBytes));
    }

    /// <summary>Buckets of the last step whose all-reduce started during backward.</summary>
    public int BucketsOverlapped => reduction.StartedDuringBackward;

    public ICommunicator Communicator => comm;
    public int Rank => comm.Rank;
    public int WorldSize => comm.WorldSize;

    /// <summary>Sequences one optimizer step reads per micro-step, over all ranks.</summary>
    public int GlobalMicroBatch(int microBatch) => microBatch * WorldSize;

    /// <summary>Micro-steps each rank runs per optimizer step; the global batch must split evenly.</summary>
    /// <param name="globalBatch">Sequences per optimizer step over all ranks.</param>
    /// <param name="microBatch">Sequences per forward and backward on one rank.</param>
    public int AccumulationSteps(int globalBatch, int microBatch)
    {
        long perStep = (long)microBatch * WorldSize;
        if (globalBatch % perStep != 0)
            throw new EngineException(EngineOption.GlobalBatch, $"{EngineOption.GlobalBatch} {globalBatch} does not split over {WorldSize} ranks × {EngineOption.MicroBatch} {microBatch}: use a {EngineOption.GlobalBatch} that is a multiple of {perStep}, or a smaller {EngineOption.MicroBatch}");
        return (int)(globalBatch / perStep);
    }

    /// <summary>This rank's block of rows of a batch of <paramref name="globalRows"/> rows that every rank read whole.</summary>
    public (int First, int Count) MyRows(int globalRows)
    {
        int rows = globalRows / WorldSize;
        return (Rank * rows, rows);
    }

    /// <summary>Call before the backward pass of an optimizer step's last micro-step: its gradients will be summed
    /// over the replicas, bucket by bucket as backward finishes them.</summary>
    public void BeginGradientSum(ModelMemory memory)
    {
        if (WorldSize == 1 || memory.Store != null) return;
        reduction.Begin(memory.Gradients);
        memory.GradientObserver = reduction;
    }

    /// <summary>After that backward pass: the rest of the buckets, and the wait for all of them.</summary>
    public void FinishGradientSum(ModelMemory memory)
    {
        if (memory.GradientObserver != reduction) return;
        memory.GradientObserver = null;
        reduction.Finish();
    }

    /// <summary>Call after each optimizer step (and what follows it: validation, a checkpoint): the collectives' deadline
    /// learns the run's pace from it (<see cref="CollectiveDeadline"/>), so a hung rank is noticed in about half a minute
    /// on a small run rather than ten.</summary>
    /// <param name="step">The step just completed (1 is the run's first).</param>
    /// <param name="duration">How long it took on this rank.</param>
    public void StepCompleted(int step, TimeSpan duration)
    {
        comm.Deadline.StepCompleted(step, duration);
        StallForTests.AfterStep(Rank, step);
    }

    /// <summary>Host numbers summed over ranks (loss sums, target counts, stop requests).</summary>
    public void Sum(Span<double> values)
    {
        if (WorldSize > 1) comm.AllReduceSum(values);
    }
}
