using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// Attention with stored probabilities and flash attention on 16-bit values: the bf16 and fp16 entries against the CPU's staged ops
/// (<see cref="HalfStoragePair"/>: one 16-bit ulp plus 1e-5 of the largest magnitude for a 16-bit output, 1e-5 for an
/// fp32 one; nothing staged on the GPU). Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class AttentionHalfStorageTests
{
    static (Slice<float> C, Slice<float> G) None => (Slice<float>.Empty, Slice<float>.Empty);

    /// <summary>
    /// Attention that keeps its probabilities (T5's cross-attention: Tq ≠ Tk, q apart from the packed k|v, key padding,
    /// a position bias and its gradient) on 16-bit values: the forward computes the output from each row's fp32
    /// probabilities and saves them rounded, as the CPU's staged op does; the score gradient stays fp32.
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Attention_with_stored_probabilities_reads_and_writes_16_bit_values(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 13 + (int)format);
        const int B = 2, Tq = 9, Tk = 14, heads = 2, hs = 6, inner = heads * hs;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, inner, 2 * inner, 1.0, Causal: false);
        Slice<float> V(Slice<float> kv) => kv.Sub(inner, kv.Length - inner);
        var q = p.Stored(p.RandomArray(B * Tq * inner));
        var kv = p.Stored(p.RandomArray(B * Tk * 2 * inner));
        var mask = p.Ints(Enumerable.Range(0, B * Tk).Select(i => i % Tk < (i / Tk == 0 ? Tk : 5) ? 1 : 0).ToArray());
        var bias = p.Stored(p.RandomArray((int)shape.BiasCount));
        var output = p.Poisoned(B * Tq * inner);
        var probs = p.Poisoned((int)shape.ProbabilityCount);
        p.Cpu.AttentionForward(shape, output.C, probs.C, q.C, kv.C, V(kv.C), mask.C, bias.C);
        p.Gpu.AttentionForward(shape, output.G, probs.G, q.G, kv.G, V(kv.G), mask.G, bias.G);
        p.AssertHalfClose(output, "cross-attention output");
        p.AssertHalfClose(probs, "cross-attention probabilities");

        var dOut = p.Stored(p.RandomArray(B * Tq * inner));
        var dq = p.Stored(p.RandomArray(B * Tq * inner)); // accumulated onto, in 16 bits
        var dkv = p.Stored(p.RandomArray(B * Tk * 2 * inner));
        var dBias = p.Fp32(p.RandomArray((int)shape.BiasCount)); // a gradient sum over layers: fp32
        p.Cpu.AttentionBackward(shape, dq.C, dkv.C, V(dkv.C), dBias.C, dOut.C, q.C, kv.C, V(kv.C), probs.C);
        p.Gpu.AttentionBackward(shape, dq.G, dkv.G, V(dkv.G), dBias.G, dOut.G, q.G, kv.G, V(kv.G), probs.G);
        p.AssertHalfClose(dq, "d query");
        p.AssertHalfClose(dkv, "d key-value");
        p.AssertClose(dBias, "d position bias (fp32)");

        // T5's tied head rescales its 16-bit hidden states in place.
        p.Cpu.Scale(dq.C, 0.125f);
        p.Gpu.Scale(dq.G, 0.125f);
        p.AssertHalfClose(dq, "scaled in place");
        p.AssertNothingStaged();
    }

    /// <summary>
    /// Flash attention on 16-bit q, k, v (one packed buffer), output and gradients, lse fp32. The fp32-arithmetic
    /// kernels take the ulp bound with 1e-5; the tensor-core kernels (bf16, head sizes multiples of 16 up to 64, no
    /// position bias) round P and dS to bf16 for their products, so they take FlashAttentionTests' 1e-2 of the
    /// largest magnitude.
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16, 2, 45, 36, 3, true, false, false)]   // head size 12: fp32-arithmetic kernels
    [InlineData(HalfFormat.Bf16, 2, 70, 64, 4, true, false, false)]   // head size 16: tensor cores
    [InlineData(HalfFormat.Bf16, 3, 40, 64, 2, false, true, false)]   // bidirectional, padded, head size 32: tensor cores
    [InlineData(HalfFormat.Bf16, 2, 33, 64, 2, false, false, true)]   // T5's position bias: fp32-arithmetic kernels
    [InlineData(HalfFormat.Fp16, 2, 45, 64, 4, true, false, false)]   // fp16: always the fp32-arithmetic kernels
    public void Flash_attention_reads_and_writes_16_bit_values(HalfFormat format, int B, int T, int C, int heads, bool causal, bool padded, bool positionBias)
    {
        using var p = new HalfStoragePair(format, B * 100 + T + (int)format);
        int hs = C / heads;
        bool tensorCores = format == HalfFormat.Bf16 && !positionBias && hs % 16 == 0 && hs <= 64;
        double fp32Tolerance = tensorCores ? 1e-2 : 1e-5;
        var shape = AttentionShape.Packed(B, T, C, heads, causal, positionBias ? 1.0 : null);
        Slice<float> At(Slice<float> x, int column) => x.Sub(column, x.Length - column);
        var qkv = p.Stored(p.RandomArray(B * T * 3 * C));
        var mask = Enumerable.Range(0, B * T).Select(i => !padded || (i / T < 2 && i % T < T - 7 * (i / T + 1)) ? 1 : 0).ToArray();
        var keys = padded ? p.Ints(mask) : (Slice<int>.Empty, Slice<int>.Empty);
        var bias = positionBias ? p.Stored(p.RandomArray(heads * T * T)) : None;
        var output = p.Poisoned(B * T * C);
        var lse = p.Fp32(Enumerable.Repeat(float.NaN, B * heads * T).ToArray());
        p.Cpu.FlashAttentionForward(shape, output.C, lse.C, qkv.C, At(qkv.C, C), At(qkv.C, 2 * C), keys.Item1, bias.C);
        p.Gpu.FlashAttentionForward(shape, output.G, lse.G, qkv.G, At(qkv.G, C), At(qkv.G, 2 * C), keys.Item2, bias.G);
        p.AssertHalfClose(output, "attention output", fp32Tolerance);
        var (cpuLse, gpuLse) = p.Read(lse);
        for (int i = 0; i < cpuLse.Length; i++)
            if (float.IsPositiveInfinity(cpuLse[i]) ? !float.IsPositiveInfinity(gpuLse[i]) : !(Math.Abs(gpuLse[i] - cpuLse[i]) <= 1e-5 * Math.Max(1, Math.Abs(cpuLse[i]))))
                Assert.Fail($"lse[{i}]: GPU {gpuLse[i]:R}, CPU {cpuLse[i]:R}");

        var dOut = p.Stored(p.RandomArray(B * T * C));
        var dqkv = p.Stored(p.RandomArray(B * T * 3 * C)); // accumulated onto, in 16 bits
        var dBias = positionBias ? p.Fp32(p.RandomArray(heads * T * T)) : None; // a gradient sum over layers: fp32
        p.Cpu.FlashAttentionBackward(shape, dqkv.C, At(dqkv.C, C), At(dqkv.C, 2 * C), dBias.C, dOut.C, qkv.C, At(qkv.C, C), At(qkv.C, 2 * C), output.C, lse.C, keys.Item1, bias.C);
        p.Gpu.FlashAttentionBackward(shape, dqkv.G, At(dqkv.G, C), At(dqkv.G, 2 * C), dBias.G, dOut.G, qkv.G, At(qkv.G, C), At(qkv.G, 2 * C), output.G, lse.G, keys.Item2, bias.G);
        p.AssertHalfClose(dqkv, "d qkv (accumulated)", fp32Tolerance);
        if (positionBias) p.AssertClose(dBias, "d position bias (fp32, accumulated)");
        p.AssertNothingStaged();
    }
}
