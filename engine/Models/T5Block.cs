using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// A T5 block, pre-norm with RMSNorm: x + SelfAttention(norm(x)), then (decoder only) + EncDecAttention(norm(·),
/// encoder output), then + DenseReluDense(norm(·)). HF names each sub-layer block.N.layer.K with its own layer_norm.
/// Only block 0 of each stack owns the relative position bias table; the network computes the bias once and every
/// block adds the same (heads, T, T) tensor, so its gradient is summed over the blocks before it reaches the table.
/// </summary>
public sealed class T5Block
{
    readonly int dim;
    readonly RmsNormLayer selfNorm, feedForwardNorm;
    readonly RmsNormLayer? crossNorm;
    readonly SelfAttentionLayer selfAttention;
    readonly CrossAttentionLayer? crossAttention;
    readonly MlpLayer feedForward;
    int afterSelf, afterCross, output, dNormalized;

    /// <param name="prefix">encoder.block.N or decoder.block.N</param>
    /// <param name="decoder">Causal self-attention and a cross-attention sub-layer.</param>
    /// <summary>Its HF prefix ("transformer.h.3"): the NVTX range Nsight shows around its forward and backward.</summary>
    public string Name { get; }

    public T5Block(ParameterLayout layout, string prefix, TransformerConfig c, bool decoder)
    {
        Name = prefix;
        dim = c.Dim;
        selfAttention = SelfAttentionLayer.T5(layout, prefix + ".layer.0.SelfAttention", c.Dim, c.Heads, c.HeadSize, causal: decoder);
        selfNorm = new RmsNormLayer(layout, prefix + ".layer.0.layer_norm.weight", c.Dim, c.LayerNormEpsilon);
        int ffn = 1;
        if (decoder)
        {
            crossAttention = new CrossAttentionLayer(layout, prefix + ".layer.1.EncDecAttention", c.Dim, c.Heads, c.HeadSize);
            crossNorm = new RmsNormLayer(layout, prefix + ".layer.1.layer_norm.weight", c.Dim, c.LayerNormEpsilon);
            ffn = 2;
        }
        feedForward = MlpLayer.T5(layout, $"{prefix}.layer.{ffn}.DenseReluDense", c.Dim, c.FeedForwardDim);
        feedForwardNorm = new RmsNormLayer(layout, $"{prefix}.layer.{ffn}.layer_norm.weight", c.Dim, c.LayerNormEpsilon);
    }

    /// <param name="T">This stack's length.</param>
    /// <param name="encoderT">The encoder's length (for cross-attention; ignored in the encoder).</param>
    public void Plan(ActivationPlan plan, string name, int B, int T, int encoderT)
    {
        int N = B * T;
        selfNorm.Plan(plan, name + ".self_norm", N);
        selfAttention.Plan(plan, name + ".self", B, T);
        afterSelf = plan.Add(name + ".residual_self", (long)N * dim);
        if (crossAttention != null)
        {
            crossNorm!.Plan(plan, name + ".cross_norm", N);
            crossAttention.Plan(plan, name + ".cross", B, T, encoderT);
            afterCross = plan.Add(name + ".residual_cross", (long)N * dim);
        }
        feedForwardNorm.Plan(plan, name + ".ff_norm", N);
        feedForward.Plan(plan, name + ".ff", N);
        output = plan.Add(name + ".residual_ff", (long)N * dim);
        dNormalized = plan.AddShared(GradientScratch.Normalized, (long)N * dim);
    }

    public Slice<float> OutputSlice(ModelMemory m) => m.Activation(output);

    Slice<float> BeforeFeedForward(ModelMemory m) => m.Activation(crossAttention != null ? afterCross : afterSelf);

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int B, int T, Slice<int> keyMask, Slice<float> positionBias,
        Slice<float> encoderOutput = default, int encoderT = 0, Slice<int> encoderMask = default)
    {
        int N = B * T;
        var b = m.Backend;
        // The encoder's self-attention hides padding keys; the decoder's is causal over real targets only.
        var a = selfAttention.Forward(m, selfNorm.Forward(m, input, N), B, T, keyMask, positionBias);
        b.Add(m.Activation(afterSelf), input, a);
        if (crossAttention != null)
        {
            var c = crossAttention.Forward(m, crossNorm!.Forward(m, m.Activation(afterSelf), N), encoderOutput, B, T, encoderT, encoderMask);
            b.Add(m.Activation(afterCross), m.Activation(afterSelf), c);
        }
        var f = feedForward.Forward(m, feedForwardNorm.Forward(m, BeforeFeedForward(m), N), N);
        b.Add(m.Activation(output), BeforeFeedForward(m), f);
        return m.Activation(output);
    }

    /// <summary>
    /// dResidual holds d(output) on entry and d(input) on return; dPositionBias and (decoder) dEncoderOutput accumulate.
    /// </summary>
    /// <param name="keyMask">The forward's (the encoder's padding), as is <paramref name="positionBias"/>.</param>
    public void Backward(ModelMemory m, Slice<float> dResidual, Slice<float> input, int B, int T, Slice<int> keyMask, Slice<float> positionBias, Slice<float> dPositionBias,
        Slice<float> encoderOutput = default, Slice<float> dEncoderOutput = default, int encoderT = 0)
    {
        int N = B * T;
        var dn = m.Activation(dNormalized); // written whole by each branch's first backward op
        feedForward.Backward(m, dn, dResidual, feedForwardNorm.Output(m), N, GradientWrite.Overwrite);
        feedForwardNorm.Backward(m, dResidual, dn, BeforeFeedForward(m), N);
        if (crossAttention != null)
        {
            crossAttention.Backward(m, dn, GradientWrite.Overwrite, dEncoderOutput, dResidual, crossNorm!.Output(m), encoderOutput, B, T, encoderT);
            crossNorm.Backward(m, dResidual, dn, m.Activation(afterSelf), N);
        }
        selfAttention.Backward(m, dn, dResidual, selfNorm.Output(m), B, T, GradientWrite.Overwrite, dPositionBias, keyMask, positionBias);
        selfNorm.Backward(m, dResidual, dn, input, N);
    }
}
