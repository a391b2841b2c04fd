using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// One family's layers between the token ids and the logits. <see cref="TransformerModel"/> owns the memory, the
/// inputs and the loss; a network registers its parameters (HF names) when built, its activations in
/// <see cref="Plan"/>, and runs forward and backward over them.
/// </summary>
public interface INetwork
{
    void Plan(ActivationPlan plan, ModelShape shape);
    /// <summary>Writes logits (OutputRows × padded vocabulary).</summary>
    void Forward(ModelMemory m, ModelShape shape, Slice<float> logits);
    /// <summary>Accumulates parameter gradients given dLogits.</summary>
    void Backward(ModelMemory m, ModelShape shape, Slice<float> dLogits);
}
