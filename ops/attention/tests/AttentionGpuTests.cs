using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// Attention that stores its probabilities (packed self-attention; cross-attention with a key mask and a position
/// bias), forward and backward, on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class AttentionGpuTests
{
    [Theory]
    [InlineData(2, 13, 24, 3, true)]
    [InlineData(1, 33, 40, 5, false)]
    public void Packed_self_attention_forward_and_backward(int B, int T, int C, int heads, bool causal)
    {
        using var p = Open(B + T + C);
        var shape = AttentionShape.Packed(B, T, C, heads, causal);
        var qkv = p.Upload(p.RandomArray(B * T * 3 * C));
        var output = p.Poisoned(B * T * C);
        var probs = p.Poisoned((int)shape.ProbabilityCount);
        (Slice<float> C, Slice<float> G) At((Slice<float> C, Slice<float> G) x, int column) => (x.C.Sub(column, x.C.Length - column), x.G.Sub(column, x.G.Length - column));
        var (q, k, v) = (qkv, At(qkv, C), At(qkv, 2 * C));
        p.Cpu.AttentionForward(shape, output.C, probs.C, q.C, k.C, v.C, Slice<int>.Empty, Slice<float>.Empty);
        p.Gpu.AttentionForward(shape, output.G, probs.G, q.G, k.G, v.G, Slice<int>.Empty, Slice<float>.Empty);
        p.AssertClose(output, "attention output");
        p.AssertClose(probs, "attention probabilities");

        var dout = p.Upload(p.RandomArray(B * T * C));
        var dqkv = p.Upload(p.RandomArray(B * T * 3 * C));
        var (dq, dk, dv) = (dqkv, At(dqkv, C), At(dqkv, 2 * C));
        p.Cpu.AttentionBackward(shape, dq.C, dk.C, dv.C, Slice<float>.Empty, dout.C, q.C, k.C, v.C, probs.C);
        p.Gpu.AttentionBackward(shape, dq.G, dk.G, dv.G, Slice<float>.Empty, dout.G, q.G, k.G, v.G, probs.G);
        p.AssertClose(dqkv, "attention d qkv");
    }

    [Fact]
    public void Cross_attention_with_a_key_mask_and_a_position_bias()
    {
        using var p = Open(11);
        const int B = 2, Tq = 9, Tk = 14, heads = 2, hs = 6, inner = heads * hs;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, inner, 2 * inner, 1.0, Causal: false); // T5: no 1/√d
        var q = p.Upload(p.RandomArray(B * Tq * inner));
        var kv = p.Upload(p.RandomArray(B * Tk * 2 * inner));
        var v = (kv.C.Sub(inner, kv.C.Length - inner), kv.G.Sub(inner, kv.G.Length - inner));
        int[] maskValues = Enumerable.Range(0, B * Tk).Select(i => i % Tk < (i / Tk == 0 ? Tk : 5) ? 1 : 0).ToArray(); // row 1 padded after 5 keys
        var mask = p.Upload(maskValues);
        var bias = p.Upload(p.RandomArray((int)shape.BiasCount));
        var output = p.Poisoned(B * Tq * inner);
        var probs = p.Poisoned((int)shape.ProbabilityCount);
        p.Cpu.AttentionForward(shape, output.C, probs.C, q.C, kv.C, v.Item1, mask.C, bias.C);
        p.Gpu.AttentionForward(shape, output.G, probs.G, q.G, kv.G, v.Item2, mask.G, bias.G);
        p.AssertClose(output, "cross-attention output");
        p.AssertClose(probs, "cross-attention probabilities");

        var dout = p.Upload(p.RandomArray(B * Tq * inner));
        var dq = p.Upload(p.RandomArray(B * Tq * inner));
        var dkv = p.Upload(p.RandomArray(B * Tk * 2 * inner));
        var dv = (dkv.C.Sub(inner, dkv.C.Length - inner), dkv.G.Sub(inner, dkv.G.Length - inner));
        var dbias = p.Upload(p.RandomArray((int)shape.BiasCount));
        p.Cpu.AttentionBackward(shape, dq.C, dkv.C, dv.Item1, dbias.C, dout.C, q.C, kv.C, v.Item1, probs.C);
        p.Gpu.AttentionBackward(shape, dq.G, dkv.G, dv.Item2, dbias.G, dout.G, q.G, kv.G, v.Item2, probs.G);
        p.AssertClose(dq, "d query");
        p.AssertClose(dkv, "d key-value");
        p.AssertClose(dbias, "d position bias");
    }
}
