using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The float32 attention kernel against the float64-summing reference on random inputs.</summary>
public unsafe class CpuAttentionTests
{
    // Float32 sums over at most T·hs ≈ 500 terms of O(1) values: a few 1e-6 relative in the worst element; a
    // missing or doubled term would be ~1/T ≥ 1e-2. The bound is relative to the tensor's largest magnitude.
    const double Tolerance = 2e-5;

    [Theory]
    [InlineData(2, 7, 36, 3, true)]    // head size 12: not a multiple of the vector width
    [InlineData(3, 16, 64, 2, true)]
    [InlineData(2, 9, 40, 5, false)]   // bidirectional, head size 8
    [InlineData(1, 33, 96, 4, false)]
    public void Forward_and_backward_match_the_reference(int B, int T, int C, int heads, bool causal)
    {
        var rng = new Random(B * 1000 + T * 10 + C);
        using var qkv = NativeBuffer.Random(B * T * 3 * C, rng);
        using var dOut = NativeBuffer.Random(B * T * C, rng);
        using var dQkvStart = NativeBuffer.Random(B * T * 3 * C, rng);

        using var output = NativeBuffer.Filled(B * T * C, float.NaN); // unwritten elements would stay NaN
        using var probs = NativeBuffer.Filled(B * heads * T * T, float.NaN);
        using var dQkv = NativeBuffer.Filled(B * T * 3 * C, 0);
        dQkvStart.Span.CopyTo(dQkv.Span); // backward accumulates
        CpuAttention.Forward(output.Ptr, probs.Ptr, qkv.Ptr, B, T, C, heads, causal);
        CpuAttention.Backward(dQkv.Ptr, dOut.Ptr, qkv.Ptr, probs.Ptr, B, T, C, heads, causal);

        using var refOutput = NativeBuffer.Filled(B * T * C, 0);
        using var refProbs = NativeBuffer.Filled(B * heads * T * T, 0);
        using var refDQkv = NativeBuffer.Filled(B * T * 3 * C, 0);
        dQkvStart.Span.CopyTo(refDQkv.Span);
        Attention<float>.Forward(refOutput.Ptr, refProbs.Ptr, qkv.Ptr, B, T, C, heads, causal);
        Attention<float>.Backward(refDQkv.Ptr, dOut.Ptr, qkv.Ptr, refProbs.Ptr, B, T, C, heads, causal);

        AssertClose(refOutput.Span, output.Span, "output");
        AssertClose(refProbs.Span, probs.Span, "probabilities");
        AssertClose(refDQkv.Span, dQkv.Span, "dqkv");
        if (causal)
            for (int bh = 0; bh < B * heads; bh++)
                for (int t = 0; t < T; t++)
                    for (int u = t + 1; u < T; u++)
                        Assert.Equal(0f, probs.Ptr[((long)bh * T + t) * T + u]);
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        const int B = 2, T = 20, C = 48, heads = 4;
        var rng = new Random(7);
        using var qkv = NativeBuffer.Random(B * T * 3 * C, rng);
        using var dOut = NativeBuffer.Random(B * T * C, rng);
        float[] Run(int threads)
        {
            using var threadLimit = new ThreadLimit(threads);
            using var output = NativeBuffer.Filled(B * T * C, 0);
            using var probs = NativeBuffer.Filled(B * heads * T * T, 0);
            using var dQkv = NativeBuffer.Filled(B * T * 3 * C, 0);
            CpuAttention.Forward(output.Ptr, probs.Ptr, qkv.Ptr, B, T, C, heads, true);
            CpuAttention.Backward(dQkv.Ptr, dOut.Ptr, qkv.Ptr, probs.Ptr, B, T, C, heads, true);
            return [.. output.ToArray(), .. dQkv.ToArray()];
        }
        MatmulAssert.BitIdentical(Run(1), Run(4), "attention with 1 vs 4 threads");
    }

    static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        double scale = 0;
        foreach (float e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= Tolerance * scale))
                Assert.Fail($"{what}[{i}] = {actual[i]:R}, reference {expected[i]:R}, |err| {err:E2} > {Tolerance:E0}·{scale:G4}");
        }
    }
}
