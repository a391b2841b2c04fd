using Engine.Tensors;

namespace Engine.Layers;

/// <summary>LayerNorm with weight and bias; saves its output, mean and 1/σ.</summary>
public sealed class LayerNormLayer
{
    readonly int dim;
    readonly float epsilon;
    int output, mean, rstd;
    public ParameterInfo Weight { get; }
    public ParameterInfo Bias { get; }

    public LayerNormLayer(ParameterLayout layout, string prefix, int dim, double epsilon)
    {
        this.dim = dim; this.epsilon = (float)epsilon;
        Weight = layout.Add(prefix + ".weight", new[] { dim });
        Bias = layout.Add(prefix + ".bias", new[] { dim });
    }

    public void Plan(ActivationPlan plan, string name, int N)
    {
        output = plan.Add(name + ".out", (long)N * dim);
        mean = plan.Add(name + ".mean", N, ActivationKind.Statistic);
        rstd = plan.Add(name + ".rstd", N, ActivationKind.Statistic);
    }

    public Slice<float> Output(ModelMemory m) => m.Activation(output);

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int N)
    {
        m.Backend.LayerNormForward(m.Activation(output), m.Activation(mean), m.Activation(rstd), input, m.Parameter(Weight), m.Parameter(Bias), N, dim, epsilon);
        return m.Activation(output);
    }

    /// <summary>residual = a + b (written to <paramref name="residual"/>), then this norm of it: the residual add fused
    /// into the norm (one kernel on the GPU). Returns the norm's output.</summary>
    public Slice<float> ForwardResidual(ModelMemory m, Slice<float> residual, Slice<float> a, Slice<float> b, int N)
    {
        m.Backend.ResidualLayerNormForward(residual, m.Activation(output), m.Activation(mean), m.Activation(rstd), a, b, m.Parameter(Weight), m.Parameter(Bias), N, dim, epsilon);
        return m.Activation(output);
    }

    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N) =>
        m.Backend.LayerNormBackward(dInput, m.Gradient(Weight), m.Gradient(Bias), dOutput, input, m.Parameter(Weight), m.Activation(mean), m.Activation(rstd), N, dim);
}
