using Engine.Tensors;
using Engine.Training;

namespace Engine.Distributed;

/// <summary>
/// DDP's part of a training step. Every rank reads the same global micro-batch (the data position stays one global
/// number, so checkpoints do not depend on the world size) and keeps its own block of rows; after the last
/// micro-step's backward pass the gradients are summed over the ranks bucket by bucket (they are already scaled by
/// 1/(targets in the global batch), so the sum is the global mean). No communication happens on the other
/// micro-steps. Every rank then takes the same optimizer step, so the replicas stay identical.
/// </summary>
public sealed class DataParallel
{
    readonly ICommunicator comm;
    readonly IReadOnlyList<(long Start, long Count)> buckets;

    public DataParallel(ICommunicator comm, ParameterLayout layout, long bucketBytes = GradientBuckets.DefaultBytes)
    {
        this.comm = comm;
        buckets = GradientBuckets.Plan(layout, bucketBytes);
    }

    public ICommunicator Communicator => comm;
    public int Rank => comm.Rank;
    public int WorldSize => comm.WorldSize;

    /// <summary>Sequences one optimizer step reads per micro-step, over all ranks.</summary>
    public int GlobalMicroBatch(int microBatch) => microBatch * WorldSize;

    /// <summary>Micro-steps each rank runs per optimizer step; the global batch must split evenly.</summary>
    public int AccumulationSteps(TrainingSettings settings)
    {
        long perStep = (long)settings.MicroBatch * WorldSize;
        if (settings.GlobalBatch % perStep != 0)
            throw new EngineException($"--batch {settings.GlobalBatch} does not split over {WorldSize} ranks × --micro-batch {settings.MicroBatch}: use a --batch that is a multiple of {perStep}, or a smaller --micro-batch");
        return (int)(settings.GlobalBatch / perStep);
    }

    /// <summary>This rank's rows of a batch every rank read whole.</summary>
    public Batch MyRows(Batch global)
    {
        int rows = global.B / WorldSize;
        return WorldSize == 1 ? global : global.Rows(Rank * rows, rows);
    }

    /// <summary>Σ over ranks of the gradients, in place, bucket by bucket (last layer first).</summary>
    public void AllReduceGradients(Slice<float> gradients)
    {
        if (WorldSize == 1) return;
        foreach (var (start, count) in buckets) comm.AllReduceSum(gradients.Sub(start, count));
    }

    /// <summary>Host numbers summed over ranks (loss sums, target counts, stop requests).</summary>
    public void Sum(Span<double> values)
    {
        if (WorldSize > 1) comm.AllReduceSum(values);
    }
}
