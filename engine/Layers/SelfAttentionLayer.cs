using Engine.Tensors;

namespace Engine.Layers;

/// <summary>Multi-head self-attention: fused qkv projection, attention, output projection (GPT-2's c_attn / c_proj).</summary>
public sealed class SelfAttentionLayer
{
    readonly int dim, heads;
    readonly bool causal;
    readonly LinearLayer qkvProjection, outputProjection;
    int qkv, attended, probabilities, output, dQkv, dAttended;

    public SelfAttentionLayer(ParameterLayout layout, string prefix, int dim, int heads, bool causal)
    {
        this.dim = dim; this.heads = heads; this.causal = causal;
        qkvProjection = new LinearLayer(layout, prefix + ".c_attn", dim, 3 * dim, bias: true, hfConv1D: true);
        outputProjection = new LinearLayer(layout, prefix + ".c_proj", dim, dim, bias: true, hfConv1D: true);
    }

    public void Plan(ActivationPlan plan, string name, int B, int T)
    {
        long N = (long)B * T;
        qkv = plan.Add(name + ".qkv", N * 3 * dim);
        attended = plan.Add(name + ".attended", N * dim);
        probabilities = plan.Add(name + ".probabilities", (long)B * heads * T * T);
        output = plan.Add(name + ".out", N * dim);
        dQkv = plan.AddShared(GradientScratch.Qkv, N * 3 * dim);
        dAttended = plan.AddShared(GradientScratch.AttentionOut, N * dim);
    }

    public Slice<float> Forward(ModelMemory m, Slice<float> input, int B, int T)
    {
        int N = B * T;
        qkvProjection.Forward(m, m.Activation(qkv), input, N);
        m.Backend.AttentionForward(m.Activation(attended), m.Activation(probabilities), m.Activation(qkv), B, T, dim, heads, causal);
        outputProjection.Forward(m, m.Activation(output), m.Activation(attended), N);
        return m.Activation(output);
    }

    public void Backward(ModelMemory m, Slice<float> dInput, Slice<float> dOutput, Slice<float> input, int B, int T)
    {
        int N = B * T;
        var dAtt = GradientScratch.Fresh(m, dAttended);
        outputProjection.Backward(m, dAtt, dOutput, m.Activation(attended), N);
        var dq = GradientScratch.Fresh(m, dQkv);
        m.Backend.AttentionBackward(dq, dAtt, m.Activation(qkv), m.Activation(probabilities), B, T, dim, heads, causal);
        qkvProjection.Backward(m, dInput, dq, input, N);
    }
}
