using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// y = x·Wᵀ + b with W stored (out, in). Owns parameters only; callers own the activations. When the layout asks for
/// quantization-aware training (<see cref="ParameterLayout.Quantization"/>) the layer also owns learnt steps: one per
/// output channel for the weight and one for its input, and forward computes what the layer's int8 model computes
/// (<see cref="LinearQuantization"/>).
/// </summary>
public sealed class LinearLayer
{
    public ParameterInfo Weight { get; }
    public ParameterInfo? Bias { get; }
    public int In { get; }
    public int Out { get; }
    /// <summary>Quantization-aware training's steps and scratch; null for a plain layer.</summary>
    public LinearQuantization? Quantization { get; }

    /// <param name="hfConv1D">GPT-2 stores this weight (in, out) in its checkpoints.</param>
    public LinearLayer(ParameterLayout layout, string prefix, int inFeatures, int outFeatures, bool bias, bool hfConv1D)
    {
        In = inFeatures; Out = outFeatures;
        Weight = layout.Add(prefix + ".weight", new[] { outFeatures, inFeatures }, hfConv1D);
        if (bias) Bias = layout.Add(prefix + ".bias", new[] { outFeatures });
        if (layout.Quantization is { } scheme) Quantization = LinearQuantization.Register(layout, scheme, new[] { prefix }, outFeatures, inFeatures);
    }

    LinearLayer(ParameterInfo weight, ParameterInfo? bias, int inFeatures, int outFeatures, LinearQuantization? quantization)
    {
        Weight = weight; Bias = bias; In = inFeatures; Out = outFeatures; Quantization = quantization;
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
        var quantization = layout.Quantization is { } scheme ? LinearQuantization.Register(layout, scheme, prefixes, outEach, inFeatures) : null;
        return new LinearLayer(weight, fusedBias, inFeatures, total, quantization);
    }

    /// <summary>Registers the layer's temporaries (quantization-aware training's levels, products and fake-quantized copies) for N rows.</summary>
    public void Plan(ActivationPlan plan, int N) => Quantization?.Plan(plan, N, In, Out);

    public void Forward(ModelMemory m, Slice<float> output, Slice<float> input, int N)
    {
        var bias = Bias is null ? default : m.Parameter(Bias);
        if (m.QuantizedLinears?.Find(Weight) is { } int8)
        {
            m.QuantizedLinears.Forward(int8, output, input, bias, N, In, Out);
            return;
        }
        if (Quantization is not { } q || m.QuantizerStatistics is not null)
        {
            // A calibration pass (before the steps exist) records the inputs and multiplies the values as they are.
            if (Quantization?.InputStep is { } step) m.QuantizerStatistics!.RecordInput(m.Backend, step, input);
            m.Backend.MatmulForward(output, input, m.Parameter(Weight), bias, N, In, Out);
            return;
        }
        q.Forward(m, Weight, output, input, bias, N, In, Out);
    }

    /// <summary>dWeight and dBias accumulate; dInput accumulates or is overwritten, as <paramref name="dInputWrite"/>
    /// says (overwrite: a fresh buffer needs no zeroing first).</summary>
    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, GradientWrite dInputWrite)
    {
        if (m.QuantizedLinears != null)
            throw new EngineException(EngineOption.Qat, $"a post-training quantized model runs forward only: train from the checkpoint it was made from, with {EngineOption.Qat} to learn its steps");
        var dBias = Bias is null ? default : m.Gradient(Bias);
        if (Quantization is not { } q)
        {
            m.Backend.MatmulBackward(dInput, m.Gradient(Weight), dBias, dOutput, input, m.Parameter(Weight), N, In, Out, dInputWrite);
            return;
        }
        q.Backward(m, Weight, dInput, dBias, dOutput, input, N, In, Out, dInputWrite);
    }
}
