using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The general attention kernel (mask, bias, strides) against its reference.</summary>
public unsafe class CpuGeneralAttentionTests
{
    [Theory]
    [InlineData(2, 9, 9, 3, 12, true, false, false)]   // BERT: packed-like strides, padding mask, head size not a vector multiple
    [InlineData(3, 7, 13, 2, 16, true, true, false)]   // cross-attention with bias
    [InlineData(2, 11, 11, 4, 8, false, true, true)]   // causal with bias (T5 decoder)
    public void General_attention_matches_the_reference(int B, int Tq, int Tk, int heads, int hs, bool mask, bool bias, bool causal)
    {
        var rng = new Random(B * 100 + Tq * 10 + Tk);
        int inner = heads * hs, qStride = inner + 3, kvStride = 2 * inner;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, qStride, kvStride, bias ? 1.0 : 1 / Math.Sqrt(hs), causal);
        using var q = NativeBuffer.Random(B * Tq * qStride, rng);
        using var kv = NativeBuffer.Random(B * Tk * kvStride, rng);
        using var positionBias = NativeBuffer.Random((int)shape.BiasCount, rng);
        using var dOut = NativeBuffer.Random(B * Tq * inner, rng);
        var maskValues = new int[B * Tk];
        for (int i = 0; i < maskValues.Length; i++) maskValues[i] = mask && i % Tk >= Tk - 2 - i / Tk ? 0 : 1;

        (float[] Output, float[] Probs, float[] Dq, float[] Dkv, float[] DBias) Run(bool fast)
        {
            using var output = NativeBuffer.Filled(B * Tq * inner, float.NaN);
            using var probs = NativeBuffer.Filled((int)shape.ProbabilityCount, float.NaN);
            using var dq = NativeBuffer.Filled(B * Tq * qStride, 0.5f);
            using var dkv = NativeBuffer.Filled(B * Tk * kvStride, 0.25f);
            using var dBias = NativeBuffer.Filled((int)shape.BiasCount, 0.125f);
            fixed (int* pm = maskValues)
            {
                int* m = mask ? pm : null;
                float* pb = bias ? positionBias.Ptr : null, pdb = bias ? dBias.Ptr : null;
                if (fast) CpuAttention.Forward(shape, output.Ptr, probs.Ptr, q.Ptr, kv.Ptr, kv.Ptr + inner, m, pb);
                else Attention<float>.Forward(shape, output.Ptr, probs.Ptr, q.Ptr, kv.Ptr, kv.Ptr + inner, m, pb);
                float[] savedProbs = probs.ToArray();
                if (fast) CpuAttention.Backward(shape, dq.Ptr, dkv.Ptr, dkv.Ptr + inner, pdb, dOut.Ptr, q.Ptr, kv.Ptr, kv.Ptr + inner, probs.Ptr);
                else Attention<float>.Backward(shape, dq.Ptr, dkv.Ptr, dkv.Ptr + inner, pdb, dOut.Ptr, q.Ptr, kv.Ptr, kv.Ptr + inner, probs.Ptr);
                return (output.ToArray(), savedProbs, dq.ToArray(), dkv.ToArray(), dBias.ToArray());
            }
        }
        var expected = Run(fast: false);
        var actual = Run(fast: true);
        AssertClose(expected.Output, actual.Output, "output");
        AssertClose(expected.Probs, actual.Probs, "probabilities");
        AssertClose(expected.Dq, actual.Dq, "dq");
        AssertClose(expected.Dkv, actual.Dkv, "dkv");
        AssertClose(expected.DBias, actual.DBias, "dBias");
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        double scale = expected.Max(e => Math.Abs((double)e));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= 2e-5 * scale)) Assert.Fail($"{what}[{i}] = {actual[i]:R}, reference {expected[i]:R}, |err| {err:E2}");
        }
    }
}
