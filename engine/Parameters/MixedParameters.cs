using Engine.Optim;
using Engine.Tensors;

namespace Engine.Parameters;

/// <summary>
/// Mixed precision with every parameter in this process: the layers compute with a 16-bit copy of the weights (the
/// compute backend's <see cref="IBackend.ValueStorage"/>); AdamW updates fp32 master weights on the fp32 backend
/// underneath and writes the copy from them in the same pass. Checkpoints hold the masters, never their rounding.
/// </summary>
public sealed class MixedParameters : WholeParameters
{
    /// <param name="compute">A backend whose <see cref="IBackend.ValueStorage"/> is 16-bit (the mixed-precision layer).</param>
    public MixedParameters(IBackend compute, ParameterLayout layout)
        : base(compute, compute.Fp32Backend, layout, AllocateCopy(compute, layout))
    {
        Masters = StateBackend.Allocate<float>(layout.Count, "master weights");
    }

    static Slice<float> AllocateCopy(IBackend compute, ParameterLayout layout)
    {
        if (compute.ValueStorage == StorageFormat.Native)
            throw new ArgumentException($"mixed parameters need a backend that stores values in 16 bits; {compute.Name} stores fp32", nameof(compute));
        return HalfStorage.Allocate(compute, layout.Count, compute.ValueStorage, "parameters (16-bit compute copy)");
    }

    /// <summary>The fp32 master weights AdamW updates; <see cref="IParameterState.Weights"/> is their 16-bit copy.</summary>
    public Slice<float> Masters { get; }

    protected override Slice<float> Fp32Weights => Masters;

    public override void LoadWeights(ReadOnlySpan<float> full)
    {
        base.LoadWeights(full);
        // New masters: their 16-bit copy follows, as AdamW writes it after every update.
        HalfStorage.Narrow(StateBackend, Masters, Weights);
    }

    public override AdamWOptimizer CreateOptimizer(AdamWSettings settings) =>
        new(StateBackend, OptimizerSegment.Pieces(Layout, settings), new MasterAdamWWeights(Masters, Weights), Gradients, settings);

    public override ModelStateBytes MeasureModelStates(AdamWOptimizer optimizer) =>
        new(Weights.Bytes, Gradients.Bytes, optimizer.MomentBytes, 0, 0, 0, Masters.Bytes);
}
