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
