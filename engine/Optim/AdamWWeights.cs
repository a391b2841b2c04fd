using Engine.Precision;
using Engine.Tensors;

namespace Engine.Optim;

/// <summary>
/// The weights an AdamW step writes: fp32 values updated in place, or fp32 master weights whose 16-bit compute copy
/// is written in the same pass. The optimizer itself only walks its segments; what a step writes is this type's
/// business, so the optimizer holds no branch on precision.
/// </summary>
public abstract class AdamWWeights
{
    /// <summary>Elements, in the layout of the gradients and of the moments the optimizer allocates.</summary>
    public abstract long Length { get; }

    /// <summary>One AdamW step over elements [start, start + count) of these weights.</summary>
    public abstract void Update(IBackend backend, long start, long count, Slice<float> gradients, Slice<float> firstMoment, Slice<float> secondMoment,
        float learningRate, AdamWSettings settings, float weightDecay, int step);

    /// <summary>One 8-bit AdamW step over elements [start, start + count): one quantized piece of
    /// <paramref name="moments"/>.</summary>
    public abstract void Update8Bit(IBackend backend, long start, long count, Slice<float> gradients, BlockwiseMoments moments, BlockwiseMoments.Piece piece,
        float learningRate, AdamWSettings settings, float weightDecay, int step);
}

/// <summary>fp32 weights AdamW updates in place (fp32 training; an fp32 FSDP shard).</summary>
public sealed class Fp32AdamWWeights(Slice<float> values) : AdamWWeights
{
    public override long Length => values.Length;

    public override void Update(IBackend backend, long start, long count, Slice<float> g, Slice<float> m, Slice<float> v,
        float learningRate, AdamWSettings settings, float weightDecay, int step) =>
        backend.AdamW(values.Sub(start, count), g, m, v, learningRate, settings.Beta1, settings.Beta2, settings.Epsilon, weightDecay, step);

    public override void Update8Bit(IBackend backend, long start, long count, Slice<float> g, BlockwiseMoments q, BlockwiseMoments.Piece p,
        float learningRate, AdamWSettings settings, float weightDecay, int step) =>
        backend.AdamW8Bit(values.Sub(start, count), g, q.FirstCodes.Sub(p.StateOffset, count), q.SecondCodes.Sub(p.StateOffset, count),
            q.FirstAbsmax.Sub(p.AbsmaxOffset, p.Blocks), q.SecondAbsmax.Sub(p.AbsmaxOffset, p.Blocks), q.SignedMap, q.UnsignedMap, p.FirstBlock,
            learningRate, settings.Beta1, settings.Beta2, settings.Epsilon, weightDecay, step);
}

/// <summary>
/// Mixed precision: the model computes with a 16-bit copy of its weights; AdamW updates the fp32 master weights and
/// writes the copy from them in the same pass (<see cref="IBackend.AdamWMixed"/>), so the copy is never stale.
/// </summary>
public sealed class MasterAdamWWeights : AdamWWeights
{
    readonly Slice<float> master, computeCopy;

    /// <param name="computeCopy">16-bit storage (an fp32 one is refused: there would be nothing to round to).</param>
    public MasterAdamWWeights(Slice<float> master, Slice<float> computeCopy)
    {
        if (master.Length != computeCopy.Length) throw new ArgumentException($"{master.Length} master weights for {computeCopy.Length} parameters");
        HalfStorage.FormatOf(computeCopy); // refuses a compute copy in fp32 storage
        this.master = master; this.computeCopy = computeCopy;
    }

    public override long Length => master.Length;

    public override void Update(IBackend backend, long start, long count, Slice<float> g, Slice<float> m, Slice<float> v,
        float learningRate, AdamWSettings settings, float weightDecay, int step) =>
        backend.AdamWMixed(master.Sub(start, count), HalfStorage.Bits(computeCopy.Sub(start, count)), HalfStorage.FormatOf(computeCopy), g, m, v,
            learningRate, settings.Beta1, settings.Beta2, settings.Epsilon, weightDecay, step);

    public override void Update8Bit(IBackend backend, long start, long count, Slice<float> g, BlockwiseMoments q, BlockwiseMoments.Piece p,
        float learningRate, AdamWSettings settings, float weightDecay, int step) =>
        backend.AdamW8BitMixed(master.Sub(start, count), HalfStorage.Bits(computeCopy.Sub(start, count)), HalfStorage.FormatOf(computeCopy), g,
            q.FirstCodes.Sub(p.StateOffset, count), q.SecondCodes.Sub(p.StateOffset, count),
            q.FirstAbsmax.Sub(p.AbsmaxOffset, p.Blocks), q.SecondAbsmax.Sub(p.AbsmaxOffset, p.Blocks), q.SignedMap, q.UnsignedMap, p.FirstBlock,
            learningRate, settings.Beta1, settings.Beta2, settings.Epsilon, weightDecay, step);
}
