using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// Packed self-attention (GPT-2's causal form and the bidirectional one): the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why), and causality.
/// </summary>
public unsafe class AttentionGradientTests
{
    readonly Random rng = new(20240520);

    [Theory]
    [InlineData(2, 5, 8, 2, true)]
    [InlineData(1, 7, 6, 3, true)]
    [InlineData(2, 4, 8, 4, false)]
    public void Attention_backward_matches_finite_differences(int B, int T, int C, int heads, bool causal)
    {
        double[] qkv = Random(rng, B * T * 3 * C), dOut = Random(rng, B * T * C);
        var y = new double[B * T * C]; var probs = new double[B * heads * T * T];
        double Loss()
        {
            fixed (double* py = y, pp = probs, pq = qkv) Attention<double>.Forward(py, pp, pq, B, T, C, heads, causal);
            return Dot(y, dOut);
        }
        Loss();
        var dqkv = new double[qkv.Length];
        fixed (double* pdq = dqkv, pd = dOut, pq = qkv, pp = probs) Attention<double>.Backward(pdq, pd, pq, pp, B, T, C, heads, causal);
        AssertClose(dqkv, Gradient(qkv, Loss), "dQkv");
    }

    [Fact]
    public void Causal_attention_ignores_the_future()
    {
        int B = 1, T = 6, C = 4, heads = 2;
        double[] qkv = Random(rng, B * T * 3 * C);
        var y1 = new double[B * T * C]; var y2 = new double[B * T * C]; var probs = new double[heads * T * T];
        fixed (double* py = y1, pp = probs, pq = qkv) Attention<double>.Forward(py, pp, pq, B, T, C, heads, true);
        for (int i = (T - 1) * 3 * C; i < T * 3 * C; i++) qkv[i] += 5; // change only the last position
        fixed (double* py = y2, pp = probs, pq = qkv) Attention<double>.Forward(py, pp, pq, B, T, C, heads, true);
        Assert.Equal(y1.AsSpan(0, (T - 1) * C).ToArray(), y2.AsSpan(0, (T - 1) * C).ToArray());
    }
}
