using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// The buffers a model works in: flat parameters and their gradients (same layout) and the activation arena for one
/// micro-batch shape. Layers hold indices into these, never buffers of their own.
/// </summary>
public sealed class ModelMemory
{
    public required IBackend Backend { get; init; }
    public required ParameterLayout Layout { get; init; }
    public required Slice<float> Parameters { get; init; }
    public required Slice<float> Gradients { get; init; }
    public Slice<float> Arena { get; set; }
    public IReadOnlyList<ActivationInfo> Activations { get; set; } = Array.Empty<ActivationInfo>();
    /// <summary>Token ids and targets of the current micro-batch, on the backend.</summary>
    public Slice<int> Tokens { get; set; }
    public Slice<int> Targets { get; set; }
    /// <summary>(B, DecoderT) decoder inputs of an encoder-decoder model (the targets shifted right), or empty.</summary>
    public Slice<int> DecoderTokens { get; set; }
    /// <summary>(B, T) key padding mask of the current micro-batch (0 = padding), or empty when every token is real.</summary>
    public Slice<int> KeyMask { get; set; }
    /// <summary>(B, T) token types (BERT's segments; zeros when the batch has none).</summary>
    public Slice<int> TokenTypes { get; set; }
    /// <summary>(B, T) position ids 0..T−1 per row, for families that look positions up like tokens.</summary>
    public Slice<int> PositionIds { get; set; }

    public Slice<float> Parameter(ParameterInfo p) => Parameters.Sub(p.Offset, p.Count);
    public Slice<float> Gradient(ParameterInfo p) => Gradients.Sub(p.Offset, p.Count);
    public Slice<float> Activation(int index) => Arena.Sub(Activations[index].Offset, Activations[index].Count);
}
