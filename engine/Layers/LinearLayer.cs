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

    LinearLayer(ParameterInfo weight, ParameterInfo? bias, int inFeatures, int outFeatures)
    {
        Weight = weight; Bias = bias; In = inFeatures; Out = outFeatures;
    }

    /// <summary>
    /// Several HF linear layers that read the same input (BERT's query/key/value, T5's k/v or wi_0/wi_1) registered
    /// back to back, weights first and then biases, so together they are one (k·out, in) matrix and one bias vector in
    /// the flat buffer and a single matrix product computes them all. Each keeps its own HF name for checkpoints.
    /// </summary>
    public static LinearLayer Fused(ParameterLayout layout, IReadOnlyList<string> prefixes, int inFeatures, int outEach, bool bias)
    {
        var weights = prefixes.Select(p => layout.Add(p + ".weight", new[] { outEach, inFeatures })).ToList();
        var biases = bias ? prefixes.Select(p => layout.Add(p + ".bias", new[] { outEach })).ToList() : null;
        int total = outEach * prefixes.Count;
        var weight = new ParameterInfo(string.Join("+", weights.Select(w => w.Name)), new[] { total, inFeatures }, weights[0].Offset, false, true);
        var fusedBias = biases == null ? null : new ParameterInfo(string.Join("+", biases.Select(b => b.Name)), new[] { total }, biases[0].Offset, false, false);
        return new LinearLayer(weight, fusedBias, inFeatures, total);
    }

    public void Forward(ModelMemory m, Slice<float> output, Slice<float> input, int N) =>
        m.Backend.MatmulForward(output, input, m.Parameter(Weight), Bias is null ? default : m.Parameter(Bias), N, In, Out);

    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N) =>
        m.Backend.MatmulBackward(dInput, m.Gradient(Weight), Bias is null ? default : m.Gradient(Bias), dOutput, input, m.Parameter(Weight), N, In, Out);
}
