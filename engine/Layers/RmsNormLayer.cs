using Engine.Tensors;

namespace Engine.Layers;

/// <summary>RMSNorm with a weight only (T5's T5LayerNorm); saves its output and 1/rms per row.</summary>
public sealed class RmsNormLayer
{
    readonly int dim;
    readonly float epsilon;
    int output, rstd;
    public ParameterInfo Weight { get; }

    /// <param name="name">The HF name of the weight, e.g. encoder.block.0.layer.0.layer_norm.weight.</param>
    public RmsNormLayer(ParameterLayout layout, string name, int dim, double epsilon)
    {
        this.dim = dim; this.epsilon = (float)epsilon;
        Weight = layout.Add(name, new[] { dim });
    }

    public void Plan(ActivationPlan plan, string name, int N)
    {
        output = plan.Add(name + ".out", (long)N * dim);
        rstd = plan.Add(name + ".rstd", N, ActivationKind.Statistic);
    }

    public Slice<float> Output(ModelMemory m) => m.Activation(output);

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int N)
    {
        m.Backend.RmsNormForward(m.Activation(output), m.Activation(rstd), input, m.Parameter(Weight), N, dim, epsilon);
        return m.Activation(output);
    }

    /// <summary>dInput += d(norm)/d(input)ᵀ·dOutput; the weight's gradient accumulates too.</summary>
    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N) =>
        m.Backend.RmsNormBackward(dInput, m.Gradient(Weight), dOutput, input, m.Parameter(Weight), m.Activation(rstd), N, dim);
}
