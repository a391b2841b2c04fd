using Engine.Layers;
using Engine.Optim;
using Engine.Tensors;

namespace Engine.Parameters;

/// <summary>
/// What the two ways of holding every parameter in this process share (<see cref="ReplicatedParameters"/>,
/// <see cref="MixedParameters"/>): the whole flat buffer of weights the layers read, fp32 gradients beside it, and
/// fp32 values the optimizer updates on an fp32 backend (the weights themselves, or master weights). Nothing here
/// communicates: DDP sums the gradients before the step, and every replica then takes the same step.
/// </summary>
public abstract class WholeParameters : IParameterState
{
    protected ParameterLayout Layout { get; }
    /// <summary>The backend the layers run on: backward writes the gradients there, so they are zeroed there too.</summary>
    protected IBackend Compute { get; }
    /// <summary>Where the fp32 state lives and its arithmetic runs: gradients' unscale and clip, AdamW, its moments.</summary>
    protected IBackend StateBackend { get; }
    /// <summary>The fp32 values AdamW updates and checkpoints hold.</summary>
    protected abstract Slice<float> Fp32Weights { get; }

    public Slice<float> Weights { get; }
    public Slice<float> Gradients { get; }
    public IParameterStore? Store => null;
    public bool IsCollective => false;

    /// <param name="weights">The buffer the layers read, allocated by the derived type in its storage.</param>
    protected WholeParameters(IBackend compute, IBackend stateBackend, ParameterLayout layout, Slice<float> weights)
    {
        Compute = compute; Layout = layout; StateBackend = stateBackend; Weights = weights;
        // Gradients accumulate in fp32 under mixed precision too (as torch's autocast does): the loss scale is
        // removed before anything rounds them, and data-parallel reductions sum fp32.
        Gradients = compute.Allocate<float>(layout.Count, "gradients");
    }

    public void BeginForward() { }
    public void EndBackward() { }
    public void ZeroGradients() => Compute.Zero(Gradients);

    public bool UnscaleGradients(float lossScale) => StateBackend.UnscaleAndCheckFinite(Gradients, lossScale);
    public double GradientSumOfSquares() => StateBackend.SumOfSquares(Gradients);
    public double WeightSumOfSquares() => StateBackend.SumOfSquares(Fp32Weights);
    public void ScaleGradients(float factor) => StateBackend.Scale(Gradients, factor);

    public virtual void LoadWeights(ReadOnlySpan<float> full) => StateBackend.CopyIn(full, Fp32Weights);
    public void GatherWeights(Span<float> full) => StateBackend.CopyOut(Fp32Weights, full);
    public void GatherGradients(Span<float> full) => Compute.CopyOut(Gradients, full);
    public void LoadOptimizerState(ReadOnlySpan<float> full, Slice<float> buffer) => StateBackend.CopyIn(full, buffer);
    public void GatherOptimizerState(Slice<float> buffer, Span<float> full) => StateBackend.CopyOut(buffer, full);

    public abstract AdamWOptimizer CreateOptimizer(AdamWSettings settings);
    public abstract ModelStateBytes MeasureModelStates(AdamWOptimizer optimizer);

    /// <summary>Nothing of its own to free: the buffers are the backend's, freed with it.</summary>
    public void Dispose() { }
}
