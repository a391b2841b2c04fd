using Engine.Tensors;

namespace Engine.Layers;

/// <summary>The feed-forward activations the three families use.</summary>
public enum FeedForwardActivation
{
    /// <summary>GPT-2's "gelu_new": 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    GeluTanh,
    /// <summary>BERT's "gelu": x·Φ(x).</summary>
    GeluErf,
    /// <summary>T5 v1.1's "gated-gelu": gelu_tanh(wi_0·x) ∘ (wi_1·x); the expand layer computes both halves.</summary>
    GatedGeluTanh,
}

/// <summary>
/// The feed-forward block: expand, activation, project back (GPT-2's c_fc/c_proj, BERT's intermediate/output, T5's
/// DenseReluDense wi_0|wi_1 (fused) and wo).
/// </summary>
public sealed class MlpLayer
{
    readonly FeedForwardActivation activation;
    readonly LinearLayer expand, project;
    int preActivation, activated, output, dPre, dAct;

    public MlpLayer(LinearLayer expand, LinearLayer project, FeedForwardActivation activation)
    {
        this.expand = expand; this.project = project; this.activation = activation;
    }

    public static MlpLayer Gpt2(ParameterLayout layout, string prefix, int dim, int hidden) => new(
        new LinearLayer(layout, prefix + ".c_fc", dim, hidden, bias: true, hfConv1D: true),
        new LinearLayer(layout, prefix + ".c_proj", hidden, dim, bias: true, hfConv1D: true), FeedForwardActivation.GeluTanh);

    /// <param name="prefix">bert.encoder.layer.N</param>
    public static MlpLayer Bert(ParameterLayout layout, string prefix, int dim, int hidden) => new(
        new LinearLayer(layout, prefix + ".intermediate.dense", dim, hidden, bias: true, hfConv1D: false),
        new LinearLayer(layout, prefix + ".output.dense", hidden, dim, bias: true, hfConv1D: false), FeedForwardActivation.GeluErf);

    /// <param name="prefix">encoder.block.N.layer.1.DenseReluDense (or the decoder's layer.2)</param>
    public static MlpLayer T5(ParameterLayout layout, string prefix, int dim, int hidden) => new(
        LinearLayer.Fused(layout, new[] { prefix + ".wi_0", prefix + ".wi_1" }, dim, hidden, bias: false),
        new LinearLayer(layout, prefix + ".wo", hidden, dim, bias: false, hfConv1D: false), FeedForwardActivation.GatedGeluTanh);

    bool Gated => activation == FeedForwardActivation.GatedGeluTanh;
    /// <summary>Width of the expand layer's output (both halves when gated).</summary>
    int Hidden => expand.Out;
    /// <summary>Width after the activation (the project layer's input).</summary>
    int Activated => project.In;

    public void Plan(ActivationPlan plan, string name, int N)
    {
        preActivation = plan.Add(name + ".hidden", (long)N * Hidden);
        activated = plan.Add(name + ".hidden_gelu", (long)N * Activated);
        output = plan.Add(name + ".out", (long)N * project.Out);
        dPre = plan.AddShared(GradientScratch.Hidden, (long)N * Hidden);
        dAct = plan.AddShared(GradientScratch.HiddenActivated, (long)N * Activated);
        expand.Plan(plan, N);
        project.Plan(plan, N);
    }

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int N)
    {
        expand.Forward(m, m.Activation(preActivation), input, N);
        if (Gated) m.Backend.GatedGeluForward(m.Activation(activated), m.Activation(preActivation), N, Activated);
        else if (activation == FeedForwardActivation.GeluErf) m.Backend.GeluErfForward(m.Activation(activated), m.Activation(preActivation));
        else m.Backend.GeluForward(m.Activation(activated), m.Activation(preActivation));
        project.Forward(m, m.Activation(output), m.Activation(activated), N);
        return m.Activation(output);
    }

    /// <param name="dInputWrite">Whether dInput is accumulated into or overwritten.</param>
    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int N, GradientWrite dInputWrite)
    {
        // The scratch gradients are written whole by their first op: no zeroing (GradientWrite.Overwrite).
        var da = m.Activation(dAct);
        project.Backward(m, da, dOutput, m.Activation(activated), N, GradientWrite.Overwrite);
        var dp = m.Activation(dPre);
        if (Gated) m.Backend.GatedGeluBackward(dp, da, m.Activation(preActivation), N, Activated, GradientWrite.Overwrite);
        else if (activation == FeedForwardActivation.GeluErf) m.Backend.GeluErfBackward(dp, da, m.Activation(preActivation), GradientWrite.Overwrite);
        else m.Backend.GeluBackward(dp, da, m.Activation(preActivation), GradientWrite.Overwrite);
        expand.Backward(m, dInput, dp, input, N, dInputWrite);
    }
}
