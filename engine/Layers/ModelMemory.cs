using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Where layers find a parameter's values and its gradient when the model does not hold the whole flat buffer
/// (FSDP gathers a unit on first use). Calls come in the same order on every rank, so a store may communicate.
/// </summary>
public interface IParameterStore
{
    Slice<float> Parameter(ParameterInfo p);
    /// <summary>The gradient to accumulate into (backward ops add to it).</summary>
    Slice<float> Gradient(ParameterInfo p);
}

/// <summary>
/// Watches the backward pass from inside (DDP starts a bucket's all-reduce once no gradient in it will be written
/// again): every gradient a layer asks for, and the points where every op asked for so far has been queued.
/// </summary>
public interface IGradientObserver
{
    void OnGradient(ParameterInfo p);
    /// <summary>Called by networks between blocks in backward: every gradient handed out so far has been written
    /// (the ops that asked for them have run, or are queued before anything queued later).</summary>
    void OnBackwardProgress();
}

/// <summary>
/// The buffers a model works in: flat parameters and their gradients (same layout) and the activation arena for one
/// micro-batch shape. Layers hold indices into these, never buffers of their own. With a <see cref="Store"/> (FSDP)
/// <see cref="Parameters"/> and <see cref="Gradients"/> are this rank's shards and layers reach full tensors through
/// the store.
/// </summary>
public sealed class ModelMemory
{
    public required IBackend Backend { get; init; }
    public required ParameterLayout Layout { get; init; }
    public required Slice<float> Parameters { get; init; }
    public required Slice<float> Gradients { get; init; }
    /// <summary>The activation arena, in bytes (<see cref="ActivationPlan"/> places every region in it).</summary>
    public Slice<byte> Arena { get; set; }
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

    /// <summary>Null when <see cref="Parameters"/> is the whole flat buffer.</summary>
    public IParameterStore? Store { get; init; }

    /// <summary>Set by DDP while the backward pass whose gradients it reduces runs; null otherwise.</summary>
    public IGradientObserver? GradientObserver { get; set; }

    /// <summary>A post-training quantized model's int8 linear layers (`trainer quantize`); null = the layers multiply
    /// their fp32 weights.</summary>
    public QuantizedLinears? QuantizedLinears { get; set; }

    /// <summary>Set while a calibration pass records the quantized layers' inputs (quantization-aware training's first
    /// step); null otherwise.</summary>
    public QuantizerStatistics? QuantizerStatistics { get; set; }

    public Slice<float> Parameter(ParameterInfo p) => Store is null ? Parameters.Sub(p.Offset, p.Count) : Store.Parameter(p);

    public Slice<float> Gradient(ParameterInfo p)
    {
        GradientObserver?.OnGradient(p);
        return Store is null ? Gradients.Sub(p.Offset, p.Count) : Store.Gradient(p);
    }

    /// <summary>Networks call this after each block's backward (see <see cref="IGradientObserver.OnBackwardProgress"/>).</summary>
    public void BackwardProgress() => GradientObserver?.OnBackwardProgress();
    public Slice<float> Activation(int index)
    {
        var a = Activations[index];
        if (a.Kind == ActivationKind.Integers) throw new InvalidOperationException($"activation {a.Name} holds integers: read it with {nameof(Integers)}");
        var region = new Slice<float>(0, a.Count, a.Storage);
        if (a.Offset < 0 || a.Offset + region.Bytes > Arena.Length)
            throw new InvalidOperationException($"activation {a.Name} [{a.Offset}, {a.Offset + region.Bytes}) outside an arena of {Arena.Length} bytes");
        return region with { Address = Arena.Address + (nint)a.Offset };
    }

    /// <summary>An integer region (<see cref="ActivationKind.Integers"/>) as elements of <typeparamref name="T"/>.</summary>
    public Slice<T> Integers<T>(int index) where T : unmanaged
    {
        var a = Activations[index];
        if (a.Kind != ActivationKind.Integers) throw new InvalidOperationException($"activation {a.Name} holds {a.Kind} floats, not integers");
        if (a.Offset < 0 || a.Offset + a.Count > Arena.Length)
            throw new InvalidOperationException($"activation {a.Name} [{a.Offset}, {a.Offset + a.Count}) outside an arena of {Arena.Length} bytes");
        return new Slice<T>(Arena.Address + (nint)a.Offset, a.Count / System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
    }
}
