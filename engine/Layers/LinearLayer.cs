using Engine.Tensors;

namespace Engine.Layers;

/// <summary>y = x·Wᵀ + b with W stored (out, in). Owns parameters only; callers own the activations.</summary>
public sealed class LinearLayer
{
    public ParameterInfo Weight { get; }
    public ParameterInfo? Bias { get; }
    public int In { get; }
    public int Out { get; }

    /// <param name="hfConv1D">GPT-2 stores this weight (in, out) in its checkpoints.</param>
    public LinearLayer(ParameterLayout layout, string prefix, int inFeatures, int outFeatures, bool bias, bool hfConv1D)
    {
        In = inFeatures; Out = outFeatures;
        Weight = layout.Add(prefix + ".weight", new[] { outFeatures, inFeatures }, hfConv1D);
        if (bias) Bias = layout.Add(prefix + ".bias", new[] { outFeatures });
    }

    public void Forward(ModelMemory m, Slice<float> output, Slice<float> input, int N) =>
        m.Backend.MatmulForward(output, input, m.Parameter(Weight), Bias is null ? default : m.Parameter(Bias), N, In, Out);

    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N) =>
        m.Backend.MatmulBackward(dInput, m.Gradient(Weight), Bias is null ? default : m.Gradient(Bias), dOutput, input, m.Parameter(Weight), N, In, Out);
}
