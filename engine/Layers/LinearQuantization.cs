using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Quantization-aware training of one linear layer (LSQ, Esser et al. 2019), with one learnt step per output channel
/// for the weight and, when the scheme quantizes inputs, one for the input. Forward computes what the layer's
/// `trainer quantize` model computes, bit for bit: the weight's levels for its steps
/// (<see cref="IBackend.QuantizeWithScales"/>, the op quantize writes the file's levels with) multiplied by
/// <see cref="QuantizedLinear.Forward"/>, the int8 model's own code: the input's levels for its step, an exact int32
/// product rescaled by the steps (w8a8, w4a8), or fp32 inputs times the levels (w8, w4). Its value is the fake-quantized
/// product Σ (l_x·s_x)(l_w·s_w) summed another way (a NaN input quantizes to level 0 here, as in the int8 model, where
/// the fake quantization passed it on). Backward recomputes the fake-quantized copies in fp32 (nothing is
/// saved between the passes), multiplies back through them and hands the products' gradients to
/// <see cref="IBackend.FakeQuantizeBackward"/>, which passes them straight through inside the clip range and gives the
/// steps theirs, scaled by g = 1/√(N·Qp) with N the values a step covers per row: the layer's inputs per token for the
/// input step, the weights of one output channel for a weight step.
/// The levels, products and copies live in shared regions of the activation arena that every layer reuses in turn.
/// </summary>
public sealed class LinearQuantization
{
    const string InputScratch = "qat.input", WeightScratch = "qat.weight", InputGradientScratch = "qat.input_grad", WeightGradientScratch = "qat.weight_grad",
        InputLevelScratch = "qat.input_levels", WeightLevelScratch = "qat.weight_levels", ProductScratch = "qat.products";

    public QuantizationScheme Scheme { get; }
    /// <summary>(out) steps, one per output channel, in the weight's row order.</summary>
    public ParameterInfo WeightStep { get; }
    /// <summary>The input's one step; null when the scheme keeps inputs in fp32 (w8, w4).</summary>
    public ParameterInfo? InputStep { get; }
    int input, weight, inputGradient, weightGradient, inputLevels, weightLevels, products;

    LinearQuantization(QuantizationScheme scheme, ParameterInfo weightStep, ParameterInfo? inputStep)
    {
        Scheme = scheme; WeightStep = weightStep; InputStep = inputStep;
    }

    /// <summary>
    /// Registers the steps after the layer's weights and biases: PREFIX.weight_step (outEach) for each HF layer the
    /// linear layer fuses, back to back so they read as one (k·outEach) vector, then one PREFIX.input_step under the
    /// first prefix (the fused layers read the same input).
    /// </summary>
    public static LinearQuantization Register(ParameterLayout layout, QuantizationScheme scheme, IReadOnlyList<string> prefixes, int outEach, int inFeatures)
    {
        var steps = prefixes.Select(p => layout.Add(p + QuantizationScheme.WeightStepSuffix, new[] { outEach })).ToList();
        var weightStep = steps.Count == 1 ? steps[0]
            : new ParameterInfo(string.Join("+", steps.Select(s => s.Name)), new[] { outEach * steps.Count }, steps[0].Offset, false, false);
        var inputStep = scheme.QuantizesInputs ? layout.Add(prefixes[0] + QuantizationScheme.InputStepSuffix, new[] { 1 }) : null;
        return new LinearQuantization(scheme, weightStep, inputStep);
    }

    public void Plan(ActivationPlan plan, int N, int In, int Out)
    {
        weight = plan.AddShared(WeightScratch, (long)Out * In);
        weightGradient = plan.AddShared(WeightGradientScratch, (long)Out * In);
        weightLevels = plan.AddSharedIntegers(WeightLevelScratch, (long)Out * In);
        if (InputStep is null) return;
        input = plan.AddShared(InputScratch, (long)N * In);
        inputGradient = plan.AddShared(InputGradientScratch, (long)N * In);
        inputLevels = plan.AddSharedIntegers(InputLevelScratch, (long)N * In);
        products = plan.AddSharedIntegers(ProductScratch, (long)N * Out * sizeof(int));
    }

    /// <summary>
    /// output = x·Wᵀ + b as the int8 model computes it: W's levels for the weight steps, then
    /// <see cref="QuantizedLinear.Forward"/> with the steps as the scales. The levels are the file's: quantize writes
    /// QuantizeWithScales(w, |s|), which is −1 times QuantizeWithScales(w, s) for a step that crossed zero (division,
    /// round half to even and the clamp to ±Qp are all odd), and the forward is odd in each step's sign.
    /// </summary>
    public void Forward(ModelMemory m, ParameterInfo weightInfo, Slice<float> output, Slice<float> x, Slice<float> bias, int N, int In, int Out)
    {
        var levels = m.Integers<sbyte>(weightLevels).Sub(0, (long)Out * In);
        var steps = m.Parameter(WeightStep);
        m.Backend.QuantizeWithScales(levels, m.Parameter(weightInfo), steps, Scheme.WeightBits, Out, In);
        var layer = new QuantizedLinear
        {
            Levels = levels, Scales = steps,
            QuantizesInputs = InputStep != null, InputScale = InputStep is null ? default : m.Parameter(InputStep), InputBits = Scheme.ActivationBits,
        };
        var scratch = InputStep is null ? default : new Int8Scratch(m.Integers<sbyte>(inputLevels), m.Integers<int>(products), default);
        layer.Forward(m.Backend, output, x, bias, scratch, N, In, Out);
    }

    /// <summary>The fake-quantized input (the input itself when inputs stay fp32) and weight, in fp32: the values
    /// backward multiplies back through.</summary>
    public (Slice<float> Input, Slice<float> Weight) FakeQuantized(ModelMemory m, ParameterInfo weightInfo, Slice<float> x, int N, int In, int Out)
    {
        var w = m.Activation(weight).Sub(0, (long)Out * In);
        m.Backend.FakeQuantize(w, m.Parameter(weightInfo), m.Parameter(WeightStep), Scheme.WeightBits, Out, In);
        if (InputStep is null) return (x, w);
        var xq = m.Activation(input).Sub(0, (long)N * In);
        // Callers may hand a buffer planned for a longer sequence (T5's decoder): the first N rows are this pass's.
        m.Backend.FakeQuantize(xq, x.Sub(0, (long)N * In), m.Parameter(InputStep), Scheme.ActivationBits, 1, checked(N * In));
        return (xq, w);
    }

    /// <param name="dInputWrite">Whether dInput is accumulated into or overwritten (<see cref="LinearLayer.Backward"/>).</param>
    public void Backward(ModelMemory m, ParameterInfo weightInfo, Slice<float> dInput, Slice<float> dBias, Slice<float> dOutput, Slice<float> x, int N, int In, int Out,
        GradientWrite dInputWrite)
    {
        var (xq, wq) = FakeQuantized(m, weightInfo, x, N, In, Out);
        var dWq = m.Activation(weightGradient).Sub(0, (long)Out * In);
        m.Backend.Zero(dWq);
        var dXq = dInput;
        var dXqWrite = dInputWrite;
        if (InputStep != null)
        {
            // The product's input gradient goes to scratch (overwritten), then through the step's backward, which
            // accumulates into dInput: an overwritten dInput starts from zero.
            dXq = m.Activation(inputGradient).Sub(0, (long)N * In);
            dXqWrite = GradientWrite.Overwrite;
            if (dInputWrite == GradientWrite.Overwrite && !dInput.IsEmpty) m.Backend.Zero(dInput.Sub(0, (long)N * In));
        }
        m.Backend.MatmulBackward(dXq, dWq, dBias, dOutput, xq, wq, N, In, Out, dXqWrite);
        m.Backend.FakeQuantizeBackward(m.Gradient(weightInfo), m.Gradient(WeightStep), dWq, m.Parameter(weightInfo), m.Parameter(WeightStep),
            Scheme.WeightBits, Out, In, StepGradientScale(In, Scheme.WeightBits));
        if (InputStep != null)
            m.Backend.FakeQuantizeBackward(dInput.IsEmpty ? dInput : dInput.Sub(0, (long)N * In), m.Gradient(InputStep), dXq, x.Sub(0, (long)N * In), m.Parameter(InputStep),
                Scheme.ActivationBits, 1, checked(N * In), StepGradientScale(In, Scheme.ActivationBits));
    }

    /// <summary>LSQ's g = 1/√(N·Qp).</summary>
    public static float StepGradientScale(int valuesPerStep, int bits) =>
        (float)(1.0 / Math.Sqrt((double)valuesPerStep * QuantizationScheme.MaxLevel(bits)));
}
