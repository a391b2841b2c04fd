using Engine.Backends.Cpu.Ops;
using Engine.Tensors;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The general attention the encoder families added (key mask, position bias, separate q and k|v with strides, any
/// scale): the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why), and padding keys that change nothing.
/// </summary>
public unsafe class GeneralAttentionGradientTests
{
    readonly Random rng = new(20261128);

    /// <summary>Packed bidirectional self-attention with padding keys (BERT), and cross-attention with a position bias, no scaling (T5).</summary>
    [Theory]
    [InlineData(2, 5, 5, 2, 4, true, false, false)]  // BERT: packed, key mask
    [InlineData(2, 4, 6, 3, 2, true, true, false)]   // cross-attention, mask and bias, Tq ≠ Tk
    [InlineData(2, 5, 5, 2, 3, false, true, true)]   // T5 decoder self-attention: causal with bias
    public void Attention_backward_matches_finite_differences(int B, int Tq, int Tk, int heads, int hs, bool mask, bool bias, bool causal)
    {
        int inner = heads * hs;
        // q rows at stride inner + 1 and k/v interleaved at stride 2·inner + 3: strides are honoured, padding unread.
        int qStride = inner + 1, kvStride = 2 * inner + 3;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, qStride, kvStride, bias ? 1.0 : 1 / Math.Sqrt(hs), causal);
        double[] q = Random(rng, B * Tq * qStride), kv = Random(rng, B * Tk * kvStride), positionBias = Random(rng, heads * Tq * Tk);
        double[] dOut = Random(rng, B * Tq * inner);
        int[] keyMask = new int[B * Tk];
        for (int i = 0; i < keyMask.Length; i++) keyMask[i] = mask && i % Tk >= Tk - 1 - i / Tk ? 0 : 1; // row b hides its last b+1 keys
        var y = new double[B * Tq * inner]; var probs = new double[shape.ProbabilityCount];
        double Loss()
        {
            fixed (double* py = y, pp = probs, pq = q, pkv = kv, pb = positionBias) fixed (int* pm = keyMask)
                Attention<double>.Forward(shape, py, pp, pq, pkv, pkv + inner, mask ? pm : null, bias ? pb : null);
            return Dot(y, dOut);
        }
        Loss();
        if (mask)
            for (int b = 0; b < B; b++)
                for (int u = 0; u < Tk; u++)
                    if (keyMask[b * Tk + u] == 0) Assert.Equal(0, probs[((long)b * heads * Tq) * Tk + u]);
        var (dq, dkv, dBias) = (new double[q.Length], new double[kv.Length], new double[positionBias.Length]);
        fixed (double* pdq = dq, pdkv = dkv, pdb = dBias, pd = dOut, pq = q, pkv = kv, pp = probs)
            Attention<double>.Backward(shape, pdq, pdkv, pdkv + inner, bias ? pdb : null, pd, pq, pkv, pkv + inner, pp);
        AssertClose(dq, Gradient(q, Loss), "dQuery");
        AssertClose(dkv, Gradient(kv, Loss), "dKeyValue");
        if (bias) AssertClose(dBias, Gradient(positionBias, Loss), "dPositionBias");
    }

    [Fact]
    public void Padding_keys_do_not_change_the_output()
    {
        int B = 1, T = 5, inner = 4, heads = 2;
        var shape = AttentionShape.Packed(B, T, inner, heads, causal: false);
        double[] qkv = Random(rng, T * 3 * inner);
        int[] keyMask = { 1, 1, 1, 0, 0 };
        var y1 = new double[T * inner]; var y2 = new double[T * inner]; var probs = new double[heads * T * T];
        fixed (double* py = y1, pp = probs, pq = qkv) fixed (int* pm = keyMask) Attention<double>.Forward(shape, py, pp, pq, pq + inner, pq + 2 * inner, pm, null);
        for (int i = 3 * 3 * inner; i < qkv.Length; i++) if (i % (3 * inner) >= inner) qkv[i] += 7; // change keys and values of the padding
        fixed (double* py = y2, pp = probs, pq = qkv) fixed (int* pm = keyMask) Attention<double>.Forward(shape, py, pp, pq, pq + inner, pq + 2 * inner, pm, null);
        Assert.Equal(y1, y2);
    }
}
