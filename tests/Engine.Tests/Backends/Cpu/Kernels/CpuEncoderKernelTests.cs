using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The float32 exact-GELU kernel and the general attention kernel (mask, bias, strides) against their references.</summary>
public unsafe class CpuEncoderKernelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(40_000)]
    public void Exact_gelu_forward_and_backward_match_the_reference(int count)
    {
        var rng = new Random(count + 5);
        using var x = NativeBuffer.Random(count, rng);
        for (int i = 0; i < count; i++) x.Ptr[i] *= 8; // [-8, 8]: both tails, where Φ or 1 − Φ is tiny
        using var dy = NativeBuffer.Random(count, rng);
        using var dxStart = NativeBuffer.Random(count, rng);
        using var y = NativeBuffer.Filled(count, float.NaN);
        using var dx = NativeBuffer.Filled(count, 0);
        dxStart.Span.CopyTo(dx.Span);
        CpuGeluErf.Forward(y.Ptr, x.Ptr, count);
        CpuGeluErf.Backward(dx.Ptr, dy.Ptr, x.Ptr, count);
        using var refY = NativeBuffer.Filled(count, 0);
        using var refDx = NativeBuffer.Filled(count, 0);
        dxStart.Span.CopyTo(refDx.Span);
        GeluErf<float>.Forward(refY.Ptr, x.Ptr, count);
        GeluErf<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, count);
        // The erfc fit's fractional error is below 1.2e-7 and float32 rounding adds a few 1e-8: 1e-6 of max(1, |value|)
        // holds that with room and catches any formula slip (≥ 1e-3).
        for (int i = 0; i < count; i++)
        {
            Assert.True(Math.Abs(y.Ptr[i] - refY.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refY.Ptr[i])), $"y[{i}] = {y.Ptr[i]:R}, reference {refY.Ptr[i]:R} (x = {x.Ptr[i]:R})");
            Assert.True(Math.Abs(dx.Ptr[i] - refDx.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refDx.Ptr[i])), $"dx[{i}] = {dx.Ptr[i]:R}, reference {refDx.Ptr[i]:R} (x = {x.Ptr[i]:R})");
        }
    }

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

    // As CpuAttentionTests: float32 sums of a few hundred O(1) terms, relative to the tensor's largest magnitude.
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

/// <summary>The float32 gated-GELU kernel (T5) against its float64-inside reference.</summary>
public unsafe class CpuGatedGeluKernelTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 300)]
    [InlineData(3, 5000)] // a row longer than the kernel's 4096-element scratch
    public void Gated_gelu_forward_and_backward_match_the_reference(int N, int F)
    {
        var rng = new Random(N * 31 + F);
        using var x = NativeBuffer.Random(N * 2 * F, rng);
        for (int i = 0; i < N * 2 * F; i++) x.Ptr[i] *= 6; // both tails of the gate
        using var dy = NativeBuffer.Random(N * F, rng);
        using var dxStart = NativeBuffer.Random(N * 2 * F, rng);
        using var y = NativeBuffer.Filled(N * F, float.NaN);
        using var refY = NativeBuffer.Filled(N * F, float.NaN);
        using var dx = NativeBuffer.Filled(N * 2 * F, 0);
        using var refDx = NativeBuffer.Filled(N * 2 * F, 0);
        dxStart.Span.CopyTo(dx.Span);
        dxStart.Span.CopyTo(refDx.Span);
        CpuGatedGelu.Forward(y.Ptr, x.Ptr, N, F);
        CpuGatedGelu.Backward(dx.Ptr, dy.Ptr, x.Ptr, N, F);
        GatedGelu<float>.Forward(refY.Ptr, x.Ptr, N, F);
        GatedGelu<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, N, F);
        // Same bound as the tanh GELU kernel's test: float32 rounding of a few operations, 1e-6 of max(1, |value|),
        // far below a formula slip (≥ 1e-3).
        for (int i = 0; i < N * F; i++)
            Assert.True(Math.Abs(y.Ptr[i] - refY.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refY.Ptr[i])), $"y[{i}] = {y.Ptr[i]:R}, reference {refY.Ptr[i]:R}");
        for (int i = 0; i < N * 2 * F; i++)
            Assert.True(Math.Abs(dx.Ptr[i] - refDx.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refDx.Ptr[i])), $"dx[{i}] = {dx.Ptr[i]:R}, reference {refDx.Ptr[i]:R}");
    }
}
