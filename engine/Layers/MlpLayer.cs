using Engine.Tensors;

namespace Engine.Layers;

/// <summary>The feed-forward block: expand (c_fc), GELU-tanh, project back (c_proj).</summary>
public sealed class MlpLayer
{
    readonly int dim, hidden;
    readonly LinearLayer expand, project;
    int preActivation, activated, output, dPre, dAct;

    public MlpLayer(ParameterLayout layout, string prefix, int dim, int hidden)
    {
        this.dim = dim; this.hidden = hidden;
        expand = new LinearLayer(layout, prefix + ".c_fc", dim, hidden, bias: true, hfConv1D: true);
        project = new LinearLayer(layout, prefix + ".c_proj", hidden, dim, bias: true, hfConv1D: true);
    }

    public void Plan(ActivationPlan plan, string name, int N)
    {
        preActivation = plan.Add(name + ".hidden", (long)N * hidden);
        activated = plan.Add(name + ".hidden_gelu", (long)N * hidden);
        output = plan.Add(name + ".out", (long)N * dim);
        dPre = plan.AddShared(GradientScratch.Hidden, (long)N * hidden);
        dAct = plan.AddShared(GradientScratch.HiddenActivated, (long)N * hidden);
    }

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int N)
    {
        expand.Forward(m, m.Activation(preActivation), input, N);
        m.Backend.GeluForward(m.Activation(activated), m.Activation(preActivation));
        project.Forward(m, m.Activation(output), m.Activation(activated), N);
        return m.Activation(output);
    }

    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N)
    {
        var da = GradientScratch.Fresh(m, dAct);
        project.Backward(m, da, dOutput, m.Activation(activated), N);
        var dp = GradientScratch.Fresh(m, dPre);
        m.Backend.GeluBackward(dp, da, m.Activation(preActivation));
        expand.Backward(m, dInput, dp, input, N);
    }
}
