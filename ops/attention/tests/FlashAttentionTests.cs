using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The flash-style GPU attention (no T×T matrix) against its CPU twin (CpuAttention.ForwardLse / BackwardLse): the
/// same output, lse and qkv gradient, for causal and bidirectional attention, with BERT's key padding mask (a row
/// whose keys are all padding included), T not a multiple of the 32-row tile, head sizes that are and are not
/// multiples of 32. Outputs and lse are poisoned with NaN before the call. Tolerance 1e-5 of the largest magnitude
/// (fp32 both sides; the online softmax rescales partial sums, a few ulps). Skipped with "no CUDA device" where
/// there is none.
/// </summary>
[Trait("Category", "GPU")]
public class FlashAttentionTests
{
    [Theory]
    [InlineData(2, 45, 36, 3, true, false)]   // head size 12
    [InlineData(1, 70, 128, 2, true, false)]  // head size 64, three tiles
    [InlineData(2, 33, 64, 4, false, false)]  // bidirectional
    [InlineData(3, 40, 64, 2, false, true)]   // bidirectional with padding; the third row is all padding
    public void Output_lse_and_gradient_match_the_CPU(int B, int T, int C, int heads, bool causal, bool padded) =>
        Compare(B, T, C, heads, causal, padded, tensorCores: false);

    /// <summary>T5's self-attention: a (heads, T, T) position bias, scale 1, its gradient summed over the batch.</summary>
    [Theory]
    [InlineData(3, 40, 64, 2, false, true)]   // the encoder: padding
    [InlineData(2, 45, 36, 3, true, false)]   // the decoder: causal
    public void With_a_position_bias_output_and_gradients_match_the_CPU(int B, int T, int C, int heads, bool causal, bool padded) =>
        Compare(B, T, C, heads, causal, padded, tensorCores: false, positionBias: true);

    /// <summary>
    /// The tensor-core kernels (bf16 mixed precision, head sizes multiples of 16 up to 64) on bf16 inputs: q, k, v
    /// and dO load exactly, but P and dS are rounded to bf16 for their products (flash attention's 16-bit
    /// arithmetic), so the bound is 1e-2 of the largest magnitude, about four bf16 ulps (2⁻⁸ each), where fp32 gets
    /// 1e-5; lse comes from fp32 sums and keeps 1e-5.
    /// </summary>
    [Theory]
    [InlineData(2, 45, 64, 4, true, false)]    // head size 16, one tile
    [InlineData(1, 130, 128, 2, true, false)]  // head size 64, three tiles, the last one partial
    [InlineData(3, 70, 128, 2, false, true)]   // bidirectional with padding; the third row is all padding
    public void Tensor_core_kernels_match_the_CPU_to_bf16_precision(int B, int T, int C, int heads, bool causal, bool padded) =>
        Compare(B, T, C, heads, causal, padded, tensorCores: true);

    static void Compare(int B, int T, int C, int heads, bool causal, bool padded, bool tensorCores, bool positionBias = false)
    {
        Gpu.Require();
        using var cpu = new CpuBackend();
        using var gpu = new CudaBackend(halfMatmulOperands: tensorCores ? Engine.Precision.HalfFormat.Bf16 : null);
        var rng = new Random(B * 100 + T);
        float[] Rand(int n)
        {
            var values = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            if (tensorCores) Engine.Precision.StorageRounding.Round(values, Engine.Precision.HalfFormat.Bf16);
            return values;
        }
        var qkv = Rand(B * T * 3 * C);
        var dout = Rand(B * T * C);
        var dqkvStart = Rand(B * T * 3 * C);
        int[] mask = Enumerable.Range(0, B * T).Select(i => !padded || (i / T < 2 && i % T < T - 7 * (i / T + 1)) ? 1 : 0).ToArray();
        var shape = AttentionShape.Packed(B, T, C, heads, causal, positionBias ? 1.0 : null);
        var biasValues = Rand(heads * T * T);
        var dBiasStart = Rand(heads * T * T);
        Slice<float> At(Slice<float> x, int column) => x.Sub(column, x.Length - column);

        (float[] Output, float[] Lse, float[] DQkv, float[] DBias) Run(Engine.Tensors.IBackend backend)
        {
            var bias = positionBias ? Up(backend, biasValues) : Slice<float>.Empty;
            var dBias = positionBias ? Up(backend, dBiasStart) : Slice<float>.Empty;
            var q = Up(backend, qkv); var dq = Up(backend, dqkvStart); var d = Up(backend, dout);
            var output = Up(backend, Enumerable.Repeat(float.NaN, B * T * C).ToArray());
            var lse = Up(backend, Enumerable.Repeat(float.NaN, B * heads * T).ToArray());
            var keys = padded ? backend.Allocate<int>(B * T, "mask") : Slice<int>.Empty;
            if (padded) backend.CopyIn<int>(mask, keys);
            backend.FlashAttentionForward(shape, output, lse, q, At(q, C), At(q, 2 * C), keys, bias);
            backend.FlashAttentionBackward(shape, dq, At(dq, C), At(dq, 2 * C), dBias, d, q, At(q, C), At(q, 2 * C), output, lse, keys, bias);
            return (Down(backend, output), Down(backend, lse), Down(backend, dq), positionBias ? Down(backend, dBias) : []);
        }

        var expected = Run(cpu);
        var actual = Run(gpu);
        double tolerance = tensorCores ? 1e-2 : 1e-5;
        Close(expected.Output, actual.Output, "output", tolerance);
        Close(expected.DQkv, actual.DQkv, "d qkv", tolerance);
        // The gradient alone (after − before), so the accumulated start does not set the scale of the bound.
        if (positionBias) Close(expected.DBias.Select((x, i) => x - dBiasStart[i]).ToArray(), actual.DBias.Select((x, i) => x - dBiasStart[i]).ToArray(), "d position bias", tolerance);
        for (int i = 0; i < expected.Lse.Length; i++)
            if (float.IsPositiveInfinity(expected.Lse[i]) ? !float.IsPositiveInfinity(actual.Lse[i]) : !(Math.Abs(actual.Lse[i] - expected.Lse[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected.Lse[i]))))
                Assert.Fail($"lse[{i}]: GPU {actual.Lse[i]:R}, CPU {expected.Lse[i]:R}");
    }

    static Slice<float> Up(Engine.Tensors.IBackend backend, float[] data)
    {
        var s = backend.Allocate<float>(data.Length, "test");
        backend.CopyIn<float>(data, s);
        return s;
    }

    static float[] Down(Engine.Tensors.IBackend backend, Slice<float> s)
    {
        var a = new float[s.Length];
        backend.CopyOut(s, a);
        return a;
    }

    static void Close(float[] expected, float[] actual, string what, double tolerance)
    {
        double scale = expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs((double)actual[i] - expected[i]) <= tolerance * scale))
                Assert.Fail($"{what}[{i}]: GPU {actual[i]:R}, CPU {expected[i]:R}");
    }
}
