using Engine.Backends.Cpu.Kernels;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The flash-attention form on the CPU (lse kept, probabilities recomputed in backward) against the
/// probability-keeping kernel: the output bit for bit (the same row computation), lse = log Σ exp(score) of each row
/// (+∞ where every key is padding), and gradients within 1e-6 of the largest (exp(score − lse) and the stored e/Σe
/// differ in the last bits), for causal, bidirectional and padded attention, with and without T5's position bias
/// (whose gradient, summed over the batch, is held to the same bound).
/// </summary>
public unsafe class CpuFlashAttentionTests
{
    [Theory]
    [InlineData(2, 7, 36, 3, true, false, false)]
    [InlineData(2, 19, 64, 2, false, false, false)]
    [InlineData(3, 12, 40, 5, false, true, false)] // the last row's keys are all padding
    [InlineData(3, 12, 40, 5, false, true, true)]  // T5's encoder: padding, a position bias, no 1/√d
    [InlineData(2, 9, 32, 4, true, false, true)]   // T5's decoder: causal with a position bias
    public void Keeps_the_log_sum_exp_and_trains_like_the_probability_kernel(int B, int T, int C, int heads, bool causal, bool padded, bool withBias)
    {
        var rng = new Random(B * 100 + T);
        var shape = AttentionShape.Packed(B, T, C, heads, causal, withBias ? 1.0 : null);
        using var bias = NativeBuffer.Random(heads * T * T, rng);
        using var dBias = NativeBuffer.Filled(heads * T * T, 0);
        using var flashDBias = NativeBuffer.Filled(heads * T * T, 0);
        float* positionBias = withBias ? bias.Ptr : null;
        using var qkv = NativeBuffer.Random(B * T * 3 * C, rng);
        using var dOut = NativeBuffer.Random(B * T * C, rng);
        using var mask = new NativeInts(Enumerable.Range(0, B * T).Select(i => !padded || (i / T < B - 1 && i % T < T - 3 * (i / T + 1)) ? 1 : 0).ToArray());
        int* keys = padded ? mask.Ptr : null;
        float* q = qkv.Ptr, k = qkv.Ptr + C, v = qkv.Ptr + 2 * C;

        using var output = NativeBuffer.Filled(B * T * C, float.NaN);
        using var probs = NativeBuffer.Filled(B * heads * T * T, float.NaN);
        using var dQkv = NativeBuffer.Filled(B * T * 3 * C, 0);
        CpuAttention.Forward(shape, output.Ptr, probs.Ptr, q, k, v, keys, positionBias);
        CpuAttention.Backward(shape, dQkv.Ptr, dQkv.Ptr + C, dQkv.Ptr + 2 * C, withBias ? dBias.Ptr : null, dOut.Ptr, q, k, v, probs.Ptr);

        using var flashOutput = NativeBuffer.Filled(B * T * C, float.NaN);
        using var lse = NativeBuffer.Filled(B * heads * T, float.NaN);
        using var flashDQkv = NativeBuffer.Filled(B * T * 3 * C, 0);
        CpuAttention.ForwardLse(shape, flashOutput.Ptr, lse.Ptr, q, k, v, keys, positionBias);
        CpuAttention.BackwardLse(shape, flashDQkv.Ptr, flashDQkv.Ptr + C, flashDQkv.Ptr + 2 * C, withBias ? flashDBias.Ptr : null, dOut.Ptr, q, k, v, lse.Ptr, keys, positionBias);

        Assert.Equal(output.Span.ToArray(), flashOutput.Span.ToArray());
        double scale = dQkv.Span.ToArray().Max(x => Math.Abs((double)x));
        for (int i = 0; i < B * T * 3 * C; i++)
            Assert.True(Math.Abs(dQkv.Ptr[i] - flashDQkv.Ptr[i]) <= 1e-6 * scale, $"dqkv[{i}]: {flashDQkv.Ptr[i]} vs {dQkv.Ptr[i]}");
        if (withBias)
        {
            double biasScale = dBias.Span.ToArray().Max(x => Math.Abs((double)x));
            Assert.True(biasScale > 0);
            for (int i = 0; i < heads * T * T; i++)
                Assert.True(Math.Abs(dBias.Ptr[i] - flashDBias.Ptr[i]) <= 1e-6 * biasScale, $"dbias[{i}]: {flashDBias.Ptr[i]} vs {dBias.Ptr[i]}");
        }

        // lse against its definition, in double.
        int hs = C / heads;
        for (int bh = 0; bh < B * heads; bh++)
            for (int t = 0; t < T; t++)
            {
                int b = bh / heads, h = bh % heads;
                double sum = 0;
                for (int u = 0; u < shape.KeyEnd(t); u++)
                {
                    if (padded && mask.Ptr[b * T + u] == 0) continue;
                    double dot = 0;
                    for (int j = 0; j < hs; j++) dot += q[(b * T + t) * 3 * C + h * hs + j] * (double)k[(b * T + u) * 3 * C + h * hs + j];
                    sum += Math.Exp(dot * shape.Scale + (withBias ? bias.Ptr[(h * T + t) * T + u] : 0));
                }
                float got = lse.Ptr[bh * T + t];
                if (sum == 0) Assert.True(float.IsPositiveInfinity(got), $"lse[{bh}, {t}] of a row with no visible key: {got}");
                else Assert.True(Math.Abs(got - Math.Log(sum)) <= 1e-5 * Math.Max(1, Math.Abs(Math.Log(sum))), $"lse[{bh}, {t}]: {got} vs {Math.Log(sum)}");
            }
    }

    sealed class NativeInts(int[] values) : IDisposable
    {
        readonly System.Runtime.InteropServices.GCHandle handle = System.Runtime.InteropServices.GCHandle.Alloc(values, System.Runtime.InteropServices.GCHandleType.Pinned);
        public int* Ptr => (int*)handle.AddrOfPinnedObject();
        public void Dispose() => handle.Free();
    }
}
