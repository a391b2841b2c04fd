using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Gradient buffers that every block reuses in turn during backward (the residual stream's gradient is the only one
/// that lives across blocks). Names are shared regions of the activation plan, so they are allocated once.
/// </summary>
public static class GradientScratch
{
    public const string Residual = "grad.residual";
    public const string Normalized = "grad.normalized";
    public const string Qkv = "grad.qkv";
    public const string AttentionOut = "grad.attention_out";
    public const string Hidden = "grad.mlp_hidden";
    public const string HiddenActivated = "grad.mlp_hidden_activated";

    /// <summary>Returns the slice after zeroing it: backward ops accumulate. A buffer whose first writer can
    /// overwrite it (a matrix product's or a GELU's input gradient: <see cref="GradientWrite.Overwrite"/>) is taken
    /// as it is instead (<see cref="ModelMemory.Activation"/>), which saves the zero pass.</summary>
    public static Slice<float> Fresh(ModelMemory m, int index)
    {
        var s = m.Activation(index);
        m.Backend.Zero(s);
        return s;
    }
}
