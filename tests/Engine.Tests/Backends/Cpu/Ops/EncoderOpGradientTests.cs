using Engine.Backends.Cpu.Ops;
using Engine.Tensors;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The ops the encoder families added (exact GELU, attention with key mask / position bias / separate q-k-v /
/// any scale, embedding lookups with a padding id), backward against float64 central finite differences, as in
/// <see cref="OpGradientTests"/> (same tolerance and reasoning).
/// </summary>
public unsafe class EncoderOpGradientTests
{
    readonly Random rng = new(20261128);

    [Fact]
    public void Erf_and_exact_gelu_match_known_values()
    {
        // erf from tables (Abramowitz & Stegun 7.1): erf(0.5), erf(1), erf(2), erf(-3).
        Assert.Equal(0.5204998778130465, Erf.Of(0.5), 1e-14);
        Assert.Equal(0.8427007929497149, Erf.Of(1), 1e-14);
        Assert.Equal(0.9953222650189527, Erf.Of(2), 1e-14);
        Assert.Equal(-0.9999779095030014, Erf.Of(-3), 1e-14);
        Assert.Equal(1.0, Erf.Of(7));
        double[] x = { -3, -1, 0, 1, 2 }, y = new double[5];
        fixed (double* py = y, px = x) GeluErf<double>.Forward(py, px, 5);
        // x·Φ(x) with Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208, Φ(−3) = 0.0013498980316301.
        Assert.Equal(0.8413447460685429, y[3], 1e-14);
        Assert.Equal(2 * 0.9772498680518208, y[4], 1e-14);
        Assert.Equal(-1 * (1 - 0.8413447460685429), y[1], 1e-14);
        Assert.Equal(-3 * 0.0013498980316301, y[0], 1e-14);
        Assert.Equal(0, y[2]);
    }

    [Fact]
    public void Exact_gelu_backward_matches_finite_differences()
    {
        double[] x = Random(rng, 41, 5), dOut = Random(rng, 41);
        var y = new double[x.Length];
        double Loss() { fixed (double* py = y, px = x) GeluErf<double>.Forward(py, px, x.Length); return Dot(y, dOut); }
        var dx = new double[x.Length];
        fixed (double* pdx = dx, pd = dOut, px = x) GeluErf<double>.Backward(pdx, pd, px, x.Length);
        AssertClose(dx, Gradient(x, Loss), "dInput");
    }

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

    [Fact]
    public void Embedding_lookup_backward_matches_finite_differences_and_skips_the_padding_id()
    {
        int N = 6, C = 3, V = 4;
        int[] ids = { 1, 0, 3, 1, 0, 2 };
        double[] table = Random(rng, V * C), dOut = Random(rng, N * C), start = Random(rng, N * C);
        var y = new double[N * C];
        double Loss() { start.CopyTo(y, 0); fixed (double* py = y, pt = table) fixed (int* pi = ids) Embedding<double>.AddRows(py, pi, pt, N, C); return Dot(y, dOut); }
        var dTable = new double[table.Length];
        fixed (double* pdt = dTable, pd = dOut) fixed (int* pi = ids) Embedding<double>.AddRowsBackward(pdt, pd, pi, N, C, -1);
        AssertClose(dTable, Gradient(table, Loss), "dTable");

        var skipped = new double[table.Length];
        fixed (double* pdt = skipped, pd = dOut) fixed (int* pi = ids) Embedding<double>.AddRowsBackward(pdt, pd, pi, N, C, 0);
        for (int i = 0; i < C; i++) Assert.Equal(0, skipped[i]);                                        // padding row: nothing
        Assert.Equal(dTable.AsSpan(C).ToArray(), skipped.AsSpan(C).ToArray());                          // others unchanged
    }
}
