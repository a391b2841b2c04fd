using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// Multi-head self-attention: one fused q|k|v projection, attention, output projection. GPT-2 names them c_attn /
/// c_proj (one HF tensor for q|k|v), BERT attention.self.{query,key,value} / attention.output.dense (three HF
/// tensors laid out back to back, <see cref="LinearLayer.Fused"/>), T5 SelfAttention.{q,k,v,o} (fused the same way,
/// no biases, no 1/√d, plus the relative position bias its stack shares).
/// Attention runs in the flash-attention form: only each query row's log-sum-exp is kept for backward, never the
/// (B, heads, T, T) probabilities.
/// </summary>
public sealed class SelfAttentionLayer
{
    readonly int heads, headSize;
    readonly bool causal;
    readonly double scale;
    readonly LinearLayer qkvProjection, outputProjection;
    int qkv, attended, saved, output, dQkv, dAttended;

    public SelfAttentionLayer(LinearLayer qkvProjection, LinearLayer outputProjection, int heads, bool causal, double? scale = null)
    {
        this.qkvProjection = qkvProjection; this.outputProjection = outputProjection;
        this.heads = heads; this.causal = causal;
        headSize = qkvProjection.Out / 3 / heads;
        this.scale = scale ?? 1.0 / Math.Sqrt(headSize);
    }

    public static SelfAttentionLayer Gpt2(ParameterLayout layout, string prefix, int dim, int heads) => new(
        new LinearLayer(layout, prefix + ".c_attn", dim, 3 * dim, bias: true, hfConv1D: true),
        new LinearLayer(layout, prefix + ".c_proj", dim, dim, bias: true, hfConv1D: true), heads, causal: true);

    /// <param name="prefix">bert.encoder.layer.N.attention</param>
    public static SelfAttentionLayer Bert(ParameterLayout layout, string prefix, int dim, int heads) => new(
        LinearLayer.Fused(layout, new[] { prefix + ".self.query", prefix + ".self.key", prefix + ".self.value" }, dim, dim, bias: true),
        new LinearLayer(layout, prefix + ".output.dense", dim, dim, bias: true, hfConv1D: false), heads, causal: false);

    /// <param name="prefix">encoder.block.N.layer.0.SelfAttention (or decoder.…)</param>
    /// <param name="causal">The decoder's self-attention.</param>
    public static SelfAttentionLayer T5(ParameterLayout layout, string prefix, int dim, int heads, int headSize, bool causal) => new(
        LinearLayer.Fused(layout, new[] { prefix + ".q", prefix + ".k", prefix + ".v" }, dim, heads * headSize, bias: false),
        new LinearLayer(layout, prefix + ".o", heads * headSize, dim, bias: false, hfConv1D: false), heads, causal, scale: 1.0);

    int Inner => heads * headSize;

    AttentionShape Shape(int B, int T) => AttentionShape.Packed(B, T, Inner, heads, causal, scale);

    public void Plan(ActivationPlan plan, string name, int B, int T)
    {
        long N = (long)B * T;
        qkv = plan.Add(name + ".qkv", N * 3 * Inner);
        attended = plan.Add(name + ".attended", N * Inner);
        saved = plan.Add(name + ".lse", (long)B * heads * T, ActivationKind.Statistic);
        output = plan.Add(name + ".out", N * outputProjection.Out);
        dQkv = plan.AddShared(GradientScratch.Qkv, N * 3 * Inner);
        dAttended = plan.AddShared(GradientScratch.AttentionOut, N * Inner);
        qkvProjection.Plan(plan, B * T);
        outputProjection.Plan(plan, B * T);
    }

    /// <param name="keyMask">(B, T) with 0 at padding keys, or empty.</param>
    /// <param name="positionBias">(heads, T, T) added to the scores (T5), or empty.</param>
    public Slice<float> Forward(ModelMemory m, Slice<float> input, int B, int T, Slice<int> keyMask = default, Slice<float> positionBias = default)
    {
        int N = B * T;
        var x = m.Activation(qkv);
        qkvProjection.Forward(m, x, input, N);
        var (q, k, v) = (x, x.Sub(Inner, x.Length - Inner), x.Sub(2 * Inner, x.Length - 2 * Inner));
        m.Backend.FlashAttentionForward(Shape(B, T), m.Activation(attended), m.Activation(saved), q, k, v, keyMask, positionBias);
        outputProjection.Forward(m, m.Activation(output), m.Activation(attended), N);
        return m.Activation(output);
    }

    /// <param name="dPositionBias">(heads, T, T) gradient of the position bias to accumulate into, or empty.</param>
    /// <param name="keyMask">The forward's.</param>
    /// <param name="positionBias">The forward's.</param>
    /// <param name="dInputWrite">Whether dInput is accumulated into or overwritten.</param>
    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int B, int T, GradientWrite dInputWrite, Slice<float> dPositionBias = default, Slice<int> keyMask = default, Slice<float> positionBias = default)
    {
        int N = B * T;
        var dAtt = m.Activation(dAttended); // written whole by the output projection's backward
        outputProjection.Backward(m, dAtt, dOutput, m.Activation(attended), N, GradientWrite.Overwrite);
        var dq = GradientScratch.Fresh(m, dQkv);
        var x = m.Activation(qkv);
        var (q, k, v) = (x, x.Sub(Inner, x.Length - Inner), x.Sub(2 * Inner, x.Length - 2 * Inner));
        var (dk, dv) = (dq.Sub(Inner, dq.Length - Inner), dq.Sub(2 * Inner, dq.Length - 2 * Inner));
        m.Backend.FlashAttentionBackward(Shape(B, T), dq, dk, dv, dPositionBias, dAtt, q, k, v, m.Activation(attended), m.Activation(saved), keyMask, positionBias);
        qkvProjection.Backward(m, dInput, dq, input, N, dInputWrite);
    }
}
