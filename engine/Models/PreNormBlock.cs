using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// A GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(·)). Pre-norm keeps the residual stream un-normalised, which is
/// why one gradient buffer for the stream serves every block in backward.
/// </summary>
public sealed class PreNormBlock
{
    readonly int dim;
    readonly LayerNormLayer norm1, norm2;
    readonly SelfAttentionLayer attention;
    readonly MlpLayer mlp;
    int afterAttention, output, dNormalized;

    /// <summary>Its HF prefix ("transformer.h.3"): the NVTX range Nsight shows around its forward and backward.</summary>
    public string Name { get; }

    public PreNormBlock(ParameterLayout layout, string prefix, TransformerConfig config)
    {
        Name = prefix;
        dim = config.Dim;
        norm1 = new LayerNormLayer(layout, prefix + ".ln_1", dim, config.LayerNormEpsilon);
        attention = SelfAttentionLayer.Gpt2(layout, prefix + ".attn", dim, config.Heads);
        norm2 = new LayerNormLayer(layout, prefix + ".ln_2", dim, config.LayerNormEpsilon);
        mlp = MlpLayer.Gpt2(layout, prefix + ".mlp", dim, config.FeedForwardDim);
    }

    public void Plan(ActivationPlan plan, string name, int B, int T)
    {
        int N = B * T;
        norm1.Plan(plan, name + ".ln_1", N);
        attention.Plan(plan, name + ".attn", B, T);
        afterAttention = plan.Add(name + ".residual_attn", (long)N * dim);
        norm2.Plan(plan, name + ".ln_2", N);
        mlp.Plan(plan, name + ".mlp", N);
        output = plan.Add(name + ".residual_mlp", (long)N * dim);
        dNormalized = plan.AddShared(GradientScratch.Normalized, (long)N * dim);
    }

    public Slice<float> OutputSlice(ModelMemory m) => m.Activation(output);

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int B, int T)
    {
        int N = B * T;
        var a = attention.Forward(m, norm1.Forward(m, input, N), B, T);
        var f = mlp.Forward(m, norm2.ForwardResidual(m, m.Activation(afterAttention), input, a, N), N);
        m.Backend.Add(m.Activation(output), m.Activation(afterAttention), f);
        return m.Activation(output);
    }

    /// <summary>dResidual holds d(output) on entry and d(input) on return (accumulated in place).</summary>
    public void Backward(ModelMemory m, Slice<float> dResidual, Slice<float> input, int B, int T)
    {
        int N = B * T;
        var dn = m.Activation(dNormalized); // written whole by each branch's first backward op
        mlp.Backward(m, dn, dResidual, norm2.Output(m), N, GradientWrite.Overwrite);
        norm2.Backward(m, dResidual, dn, m.Activation(afterAttention), N);
        attention.Backward(m, dn, dResidual, norm1.Output(m), B, T, GradientWrite.Overwrite);
        norm1.Backward(m, dResidual, dn, input, N);
    }
}
