using Engine.Optim;
using Engine.Tensors;

namespace Engine.Parameters;

/// <summary>
/// fp32 training with every parameter in this process (one process, or a DDP replica): the layers read the weights
/// AdamW updates in place; gradients, their unscale and clip and the moments live on the compute backend.
/// </summary>
public sealed class ReplicatedParameters(IBackend compute, ParameterLayout layout)
    : WholeParameters(compute, compute, layout, compute.Allocate<float>(layout.Count, "parameters"))
{
    protected override Slice<float> Fp32Weights => Weights;

    public override AdamWOptimizer CreateOptimizer(AdamWSettings settings) => new(Compute, Layout, Weights, Gradients, settings);

    public override ModelStateBytes MeasureModelStates(AdamWOptimizer optimizer) =>
        new(Weights.Bytes, Gradients.Bytes, optimizer.MomentBytes, 0, 0, 0);
}
