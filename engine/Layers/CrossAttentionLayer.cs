using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// T5's EncDecAttention: queries from the decoder, keys and values from the encoder's output (k|v one fused
/// projection), no biases, no 1/√d, no position bias; the encoder's padding mask hides padding keys.
/// </summary>
public sealed class CrossAttentionLayer
{
    readonly int heads, headSize;
    readonly LinearLayer query, keyValue, output;
    int q, kv, attended, probabilities, result, dQuery, dKeyValue, dAttended;

    /// <param name="prefix">decoder.block.N.layer.1.EncDecAttention</param>
    public CrossAttentionLayer(ParameterLayout layout, string prefix, int dim, int heads, int headSize)
    {
        this.heads = heads; this.headSize = headSize;
        query = new LinearLayer(layout, prefix + ".q", dim, Inner, bias: false, hfConv1D: false);
        keyValue = LinearLayer.Fused(layout, new[] { prefix + ".k", prefix + ".v" }, dim, Inner, bias: false);
        output = new LinearLayer(layout, prefix + ".o", Inner, dim, bias: false, hfConv1D: false);
    }

    int Inner => heads * headSize;

    AttentionShape Shape(int B, int Tq, int Tk) => new(B, Tq, Tk, heads, headSize, Inner, 2 * Inner, Scale: 1.0, Causal: false);

    /// <param name="Tq">Decoder length.</param>
    /// <param name="Tk">Encoder length.</param>
    public void Plan(ActivationPlan plan, string name, int B, int Tq, int Tk)
    {
        long Nq = (long)B * Tq, Nk = (long)B * Tk;
        q = plan.Add(name + ".q", Nq * Inner);
        kv = plan.Add(name + ".kv", Nk * 2 * Inner);
        attended = plan.Add(name + ".attended", Nq * Inner);
        probabilities = plan.Add(name + ".probabilities", (long)B * heads * Tq * Tk);
        result = plan.Add(name + ".out", Nq * output.Out);
        dQuery = plan.AddShared("grad.cross_q", Nq * Inner);
        dKeyValue = plan.AddShared("grad.cross_kv", Nk * 2 * Inner);
        dAttended = plan.AddShared(GradientScratch.AttentionOut, Nq * Inner);
        query.Plan(plan, B * Tq);
        keyValue.Plan(plan, B * Tk);
        output.Plan(plan, B * Tq);
    }

    public Slice<float> Forward(ModelMemory m, Slice<float> input, Slice<float> encoderOutput, int B, int Tq, int Tk, Slice<int> keyMask)
    {
        var x = m.Activation(q);
        var y = m.Activation(kv);
        query.Forward(m, x, input, B * Tq);
        keyValue.Forward(m, y, encoderOutput, B * Tk);
        m.Backend.AttentionForward(Shape(B, Tq, Tk), m.Activation(attended), m.Activation(probabilities), x, y, y.Sub(Inner, y.Length - Inner), keyMask, default);
        output.Forward(m, m.Activation(result), m.Activation(attended), B * Tq);
        return m.Activation(result);
    }

    /// <summary>dEncoderOutput accumulates (every decoder layer adds its share to the encoder's gradient); dInput
    /// accumulates or is overwritten, as <paramref name="dInputWrite"/> says.</summary>
    public void Backward(ModelMemory m, Slice<float> dInput, GradientWrite dInputWrite, Slice<float> dEncoderOutput, Slice<float> dOutput, Slice<float> input, Slice<float> encoderOutput, int B, int Tq, int Tk)
    {
        var dAtt = m.Activation(dAttended); // written whole by the output projection's backward
        output.Backward(m, dAtt, dOutput, m.Activation(attended), B * Tq, GradientWrite.Overwrite);
        var dq = GradientScratch.Fresh(m, dQuery);
        var dkv = GradientScratch.Fresh(m, dKeyValue);
        var x = m.Activation(q);
        var y = m.Activation(kv);
        m.Backend.AttentionBackward(Shape(B, Tq, Tk), dq, dkv, dkv.Sub(Inner, dkv.Length - Inner), default, dAtt, x, y, y.Sub(Inner, y.Length - Inner), m.Activation(probabilities));
        query.Backward(m, dInput, dq, input, B * Tq, dInputWrite);
        keyValue.Backward(m, dEncoderOutput, dkv, encoderOutput, B * Tk, GradientWrite.Accumulate);
    }
}
