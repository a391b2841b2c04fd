using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The float32 fused softmax + cross-entropy against the float64 reference.</summary>
public unsafe class CpuCrossEntropyTests
{
    // Float32 sums over V ≤ 50k exponentials of values ≤ 1: relative error ~1e-6 on the sum, so ~1e-6 on each loss
    // and on each probability; 1e-5 leaves room and still catches any formula slip (≥ 1e-3).
    const double Tolerance = 1e-5;

    [Theory]
    [InlineData(37, 1000, 1024, 0.25f)]
    [InlineData(5, 50257, 50304, 1f)]  // GPT-2's vocabulary, padded
    [InlineData(9, 13, 13, 0f)]        // evaluation: no gradient, logits untouched
    public void Losses_and_gradients_match_the_reference(int N, int V, int paddedV, float scale)
    {
        var rng = new Random(N + V);
        using var logits = NativeBuffer.Random(N * paddedV, rng);
        for (int i = 0; i < N * paddedV; i++) logits.Ptr[i] *= 8;
        var original = logits.ToArray();
        int[] targets = Enumerable.Range(0, N).Select(n => n % 4 == 1 ? -100 : rng.Next(V)).ToArray();
        using var reference = NativeBuffer.Filled(N * paddedV, 0);
        original.CopyTo(reference.Span);
        using var losses = NativeBuffer.Filled(N, float.NaN);
        using var refLosses = NativeBuffer.Filled(N, 0);
        double total, refTotal;
        fixed (int* t = targets)
        {
            total = CpuCrossEntropy.Forward(logits.Ptr, losses.Ptr, t, N, V, paddedV, scale);
            refTotal = CrossEntropy<float>.Forward(reference.Ptr, refLosses.Ptr, t, N, V, paddedV, scale);
        }
        Assert.True(Math.Abs(total - refTotal) <= Tolerance * Math.Abs(refTotal), $"total {total} vs {refTotal}");
        for (int n = 0; n < N; n++) Assert.True(Math.Abs(losses.Ptr[n] - refLosses.Ptr[n]) <= Tolerance * Math.Max(1, refLosses.Ptr[n]), $"loss[{n}] {losses.Ptr[n]} vs {refLosses.Ptr[n]}");
        if (scale == 0) Assert.Equal(original, logits.ToArray());
        double gradScale = Math.Max(Math.Abs(scale), 1e-30);
        for (int i = 0; i < N * paddedV; i++)
            Assert.True(Math.Abs(logits.Ptr[i] - reference.Ptr[i]) <= Tolerance * gradScale, $"dlogits[{i}] {logits.Ptr[i]} vs {reference.Ptr[i]}");
    }

    [Theory]
    [InlineData(7, 13, 16, 0.5f)]          // shorter than one 16-lane group's worth of tail handling
    [InlineData(11, 1000, 1024, 1f / 11)]  // 62 groups of 16 and a tail of 8
    [InlineData(6, 50257, 50304, 1f)]      // GPT-2's vocabulary: a tail of 1
    [InlineData(6, 50257, 50304, 0f)]      // loss only
    public void Bits_do_not_depend_on_the_vector_width_or_the_thread_count(int N, int V, int paddedV, float scale)
    {
        var rng = new Random(V);
        var input = new float[N * paddedV];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 16 - 8);
        int[] targets = Enumerable.Range(0, N).Select(n => n == 2 ? -100 : rng.Next(V)).ToArray();
        (double Total, float[] Losses, float[] Logits) Run(SimdLevel level, int threads)
        {
            using var threadLimit = new ThreadLimit(threads);
            using var logits = NativeBuffer.Filled(N * paddedV, 0);
            input.CopyTo(logits.Span);
            using var losses = NativeBuffer.Filled(N, float.NaN);
            double total;
            fixed (int* t = targets)
                using (Simd.ForceForCurrentThread(level)) total = CpuCrossEntropy.Forward(logits.Ptr, losses.Ptr, t, N, V, paddedV, scale);
            return (total, losses.ToArray(), logits.ToArray());
        }
        var expected = Run(SimdLevel.Scalar, 1);
        foreach (var (level, threads) in new[] { (SimdLevel.Scalar, 4), (SimdLevel.Vector256, 1), (SimdLevel.Vector256, 3), (SimdLevel.Vector512, 1), (SimdLevel.Vector512, 4) })
        {
            var got = Run(level, threads);
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Total), BitConverter.DoubleToInt64Bits(got.Total));
            MatmulAssert.BitIdentical(expected.Losses, got.Losses, $"losses at {level}, {threads} threads");
            MatmulAssert.BitIdentical(expected.Logits, got.Logits, $"dlogits at {level}, {threads} threads");
        }
    }

    [Fact]
    public void A_row_without_a_finite_maximum_gets_NaN_like_the_reference()
    {
        const int N = 4, V = 40, paddedV = 48;
        var rng = new Random(5);
        using var logits = NativeBuffer.Random(N * paddedV, rng);
        logits.Ptr[0 * paddedV + 17] = float.NaN;
        logits.Ptr[1 * paddedV + 3] = float.PositiveInfinity;
        for (int i = 0; i < V; i++) logits.Ptr[2 * paddedV + i] = float.NegativeInfinity;
        logits.Ptr[3 * paddedV + 9] = float.NegativeInfinity; // finite maximum: an ordinary row, probability 0 there
        using var reference = NativeBuffer.Filled(N * paddedV, 0);
        logits.Span.CopyTo(reference.Span);
        using var losses = NativeBuffer.Filled(N, 0);
        using var refLosses = NativeBuffer.Filled(N, 0);
        int[] targets = [1, 2, 3, 4];
        fixed (int* t = targets)
        {
            CpuCrossEntropy.Forward(logits.Ptr, losses.Ptr, t, N, V, paddedV, 1f);
            CrossEntropy<float>.Forward(reference.Ptr, refLosses.Ptr, t, N, V, paddedV, 1f);
        }
        for (int n = 0; n < 3; n++)
        {
            Assert.True(float.IsNaN(losses.Ptr[n]) && float.IsNaN(refLosses.Ptr[n]), $"loss[{n}] {losses.Ptr[n]} (reference {refLosses.Ptr[n]})");
            for (int i = 0; i < V; i++) Assert.True(float.IsNaN(logits.Ptr[n * paddedV + i]) && float.IsNaN(reference.Ptr[n * paddedV + i]), $"dlogits[{n}, {i}]");
            for (int i = V; i < paddedV; i++) Assert.Equal(0f, logits.Ptr[n * paddedV + i]);
        }
        Assert.True(float.IsFinite(losses.Ptr[3]));
        Assert.Equal(0f, logits.Ptr[3 * paddedV + 9]);
        Assert.Equal(reference.Ptr[3 * paddedV + 9], logits.Ptr[3 * paddedV + 9]);
    }

    [Fact]
    public void A_target_outside_the_vocabulary_is_named()
    {
        using var logits = NativeBuffer.Filled(3 * 8, 0);
        using var losses = NativeBuffer.Filled(3, 0);
        int[] targets = [1, 9, 2];
        fixed (int* t = targets)
        {
            int* tp = t;
            var e = Assert.Throws<EngineException>(() => CpuCrossEntropy.Forward(logits.Ptr, losses.Ptr, tp, 3, 8, 8, 1f));
            Assert.Contains("target token id 9 at row 1 is outside the vocabulary of 8", e.Message);
        }
    }
}
