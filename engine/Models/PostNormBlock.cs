using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// A BERT layer (post-LN): h = LN₁(x + attn(x)), out = LN₂(h + mlp(h)). Unlike pre-norm, every residual sum is
/// normalised, so backward runs each LayerNorm's backward first and then splits its gradient between the skip path
/// (copied) and the branch (accumulated on top).
/// </summary>
public sealed class PostNormBlock
{
    readonly int dim;
    readonly SelfAttentionLayer attention;
    readonly LayerNormLayer attentionNorm, outputNorm;
    readonly MlpLayer mlp;
    int afterAttention, afterMlp, dSum;

    /// <param name="prefix">bert.encoder.layer.N</param>
    /// <summary>Its HF prefix ("transformer.h.3"): the NVTX range Nsight shows around its forward and backward.</summary>
    public string Name { get; }

    public PostNormBlock(ParameterLayout layout, string prefix, TransformerConfig config)
    {
        Name = prefix;
        dim = config.Dim;
        attention = SelfAttentionLayer.Bert(layout, prefix + ".attention", dim, config.Heads);
        attentionNorm = new LayerNormLayer(layout, prefix + ".attention.output.LayerNorm", dim, config.LayerNormEpsilon);
        mlp = MlpLayer.Bert(layout, prefix, dim, config.FeedForwardDim);
        outputNorm = new LayerNormLayer(layout, prefix + ".output.LayerNorm", dim, config.LayerNormEpsilon);
    }

    public void Plan(ActivationPlan plan, string name, int B, int T)
    {
        int N = B * T;
        attention.Plan(plan, name + ".attention", B, T);
        afterAttention = plan.Add(name + ".residual_attention", (long)N * dim);
        attentionNorm.Plan(plan, name + ".attention_norm", N);
        mlp.Plan(plan, name + ".mlp", N);
        afterMlp = plan.Add(name + ".residual_mlp", (long)N * dim);
        outputNorm.Plan(plan, name + ".output_norm", N);
        dSum = plan.AddShared(GradientScratch.Normalized, (long)N * dim);
    }

    public Slice<float> OutputSlice(ModelMemory m) => outputNorm.Output(m);

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int B, int T, Slice<int> keyMask)
    {
        int N = B * T;
        var a = attention.Forward(m, input, B, T, keyMask);
        var h = attentionNorm.ForwardResidual(m, m.Activation(afterAttention), input, a, N);
        var f = mlp.Forward(m, h, N);
        return outputNorm.ForwardResidual(m, m.Activation(afterMlp), h, f, N);
    }

    /// <summary>dResidual holds d(output) on entry and d(input) on return; keyMask is the forward's.</summary>
    public void Backward(ModelMemory m, Slice<float> dResidual, Slice<float> input, int B, int T, Slice<int> keyMask)
    {
        int N = B * T;
        var d = GradientScratch.Fresh(m, dSum);
        outputNorm.Backward(m, d, dResidual, m.Activation(afterMlp), N);
        m.Backend.Copy(d, dResidual);                        // skip path: d(h) = d(sum) …
        mlp.Backward(m, dResidual, d, attentionNorm.Output(m), N, GradientWrite.Accumulate); // … + mlpᵀ d(sum)
        d = GradientScratch.Fresh(m, dSum);
        attentionNorm.Backward(m, d, dResidual, m.Activation(afterAttention), N);
        m.Backend.Copy(d, dResidual);
        attention.Backward(m, dResidual, d, input, B, T, GradientWrite.Accumulate, keyMask: keyMask);
    }
}
