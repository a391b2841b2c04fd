using Engine.Backends.Cpu;
using Engine.Backends.Mixed;
using Engine.Models;
using Engine.Parameters;
using Engine.Precision;
using Engine.Tensors;
using Engine.Util;

namespace Engine.Tests.Precision;

/// <summary>
/// 16-bit storage: slices that know their element format, and the mixed-precision backend that runs fp32 ops on
/// 16-bit stored arguments. Each op must give, bit for bit, what the fp32 op gives on the same 16-bit values with
/// its outputs rounded to 16 bits afterwards: the definition of a 16-bit kernel with fp32 arithmetic.
/// </summary>
public class HalfStorageTests
{
    static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
    }

    static float[] Rounded(float[] x, HalfFormat format)
    {
        var r = (float[])x.Clone();
        StorageRounding.Round(r, format);
        return r;
    }

    /// <summary>A 16-bit stored slice holding <paramref name="values"/> (rounded on the way in).</summary>
    static Slice<float> Stored(MixedPrecisionBackend b, float[] values, HalfFormat format)
    {
        var s = HalfStorage.Allocate(b, values.Length, HalfStorage.StorageOf(format), "test");
        b.CopyIn<float>(values, s);
        return s;
    }

    static Slice<float> Fp32(CpuBackend b, float[] values)
    {
        var s = b.Allocate<float>(values.Length, "test");
        b.CopyIn<float>(values, s);
        return s;
    }

    static float[] Read(Engine.Tensors.IBackend b, Slice<float> s)
    {
        var r = new float[s.Length];
        b.CopyOut(s, r);
        return r;
    }

    static void AssertBitEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i]), $"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R}");
    }

    [Fact]
    public void A_16_bit_slice_steps_two_bytes_and_refuses_to_be_read_as_floats()
    {
        var s = new Slice<float>(1024, 100, StorageFormat.Bf16);
        Assert.Equal(200, s.Bytes);
        Assert.Equal(1024 + 20, s.Sub(10, 5).Address);
        Assert.Equal(StorageFormat.Bf16, s.Sub(10, 5).Storage);
        var e = Assert.Throws<InvalidOperationException>(() => s.Span.Length);
        Assert.Contains("stored as Bf16", e.Message);
        Assert.Equal(1024 + 40, new Slice<float>(1024, 100).Sub(10, 5).Address);
    }

    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Copies_in_round_and_copies_out_are_exact(HalfFormat format)
    {
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), format == HalfFormat.Bf16 ? PrecisionMode.Bf16 : PrecisionMode.Fp16);
        var x = Random(37, 1, 3f);
        var s = Stored(mixed, x, format);
        Assert.Equal(74, s.Bytes);
        AssertBitEqual(Rounded(x, format), Read(mixed, s), "copy out");
        Assert.Throws<ArgumentException>(() => mixed.Copy(s, mixed.Allocate<float>(37, "fp32")));
    }

    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Matrix_products_on_16_bit_storage_are_the_fp32_products_of_the_16_bit_values_rounded(HalfFormat format)
    {
        int N = 13, C = 24, OC = 7;
        var cpu = new CpuBackend();
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), format == HalfFormat.Bf16 ? PrecisionMode.Bf16 : PrecisionMode.Fp16);
        float[] x = Random(N * C, 1), w = Random(OC * C, 2, 0.3f), bias = Random(OC, 3), dOut = Random(N * OC, 4), dIn = Random(N * C, 5);

        // Reference: fp32 ops on the 16-bit values, every 16-bit output rounded after the op.
        var (rx, rw, rb, rdOut, rdIn) = (Fp32(cpu, Rounded(x, format)), Fp32(cpu, Rounded(w, format)), Fp32(cpu, Rounded(bias, format)), Fp32(cpu, Rounded(dOut, format)), Fp32(cpu, Rounded(dIn, format)));
        var rOut = cpu.Allocate<float>(N * OC, "out");
        var rdW = Fp32(cpu, Random(OC * C, 6)); var rdB = cpu.Allocate<float>(OC, "db");
        cpu.MatmulForward(rOut, rx, rw, rb, N, C, OC);
        cpu.MatmulBackward(rdIn, rdW, rdB, rdOut, rx, rw, N, C, OC, GradientWrite.Accumulate);

        // 16-bit storage for activations and weights; the weight and bias gradients are fp32, as the model keeps them.
        var (sx, sw, sb, sdOut, sdIn) = (Stored(mixed, x, format), Stored(mixed, w, format), Stored(mixed, bias, format), Stored(mixed, dOut, format), Stored(mixed, dIn, format));
        var sOut = HalfStorage.Allocate(mixed, N * OC, HalfStorage.StorageOf(format), "out");
        var sdW = mixed.Allocate<float>(OC * C, "dw"); mixed.CopyIn<float>(Random(OC * C, 6), sdW);
        var sdB = mixed.Allocate<float>(OC, "db");
        mixed.MatmulForward(sOut, sx, sw, sb, N, C, OC);
        mixed.MatmulBackward(sdIn, sdW, sdB, sdOut, sx, sw, N, C, OC, GradientWrite.Accumulate);

        AssertBitEqual(Rounded(Read(cpu, rOut), format), Read(mixed, sOut), "output");
        AssertBitEqual(Rounded(Read(cpu, rdIn), format), Read(mixed, sdIn), "dInput (accumulated into 16-bit storage)");
        AssertBitEqual(Read(cpu, rdW), Read(mixed, sdW), "dWeight (fp32)");
        AssertBitEqual(Read(cpu, rdB), Read(mixed, sdB), "dBias (fp32)");
    }

    [Fact]
    public void Packed_attention_on_16_bit_storage_keeps_q_k_v_one_buffer_and_matches_the_fp32_op()
    {
        const HalfFormat format = HalfFormat.Bf16;
        int B = 2, T = 9, heads = 2, inner = 8;
        var shape = AttentionShape.Packed(B, T, inner, heads, causal: true);
        var cpu = new CpuBackend();
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16);
        float[] qkv = Random(B * T * 3 * inner, 1), dOut = Random(B * T * inner, 2), dqkv = Random(B * T * 3 * inner, 3, 0.1f);

        Slice<float> Q(Slice<float> x) => x;
        Slice<float> K(Slice<float> x) => x.Sub(inner, x.Length - inner);
        Slice<float> V(Slice<float> x) => x.Sub(2 * inner, x.Length - 2 * inner);

        var (rqkv, rdOut, rdqkv) = (Fp32(cpu, Rounded(qkv, format)), Fp32(cpu, Rounded(dOut, format)), Fp32(cpu, Rounded(dqkv, format)));
        var (rOut, rLse) = (cpu.Allocate<float>(B * T * inner, "o"), cpu.Allocate<float>(B * heads * T, "lse"));
        cpu.FlashAttentionForward(shape, rOut, rLse, Q(rqkv), K(rqkv), V(rqkv), default, default);
        var rOutRounded = Fp32(cpu, Rounded(Read(cpu, rOut), format)); // backward reads the stored (16-bit) output
        cpu.FlashAttentionBackward(shape, Q(rdqkv), K(rdqkv), V(rdqkv), default, rdOut, Q(rqkv), K(rqkv), V(rqkv), rOutRounded, rLse, default, default);

        var (sqkv, sdOut, sdqkv) = (Stored(mixed, qkv, format), Stored(mixed, dOut, format), Stored(mixed, dqkv, format));
        var sOut = HalfStorage.Allocate(mixed, B * T * inner, StorageFormat.Bf16, "o");
        var sLse = mixed.Allocate<float>(B * heads * T, "lse");
        mixed.FlashAttentionForward(shape, sOut, sLse, Q(sqkv), K(sqkv), V(sqkv), default, default);
        mixed.FlashAttentionBackward(shape, Q(sdqkv), K(sdqkv), V(sdqkv), default, sdOut, Q(sqkv), K(sqkv), V(sqkv), sOut, sLse, default, default);

        AssertBitEqual(Rounded(Read(cpu, rOut), format), Read(mixed, sOut), "output");
        AssertBitEqual(Read(cpu, rLse), Read(mixed, sLse), "log-sum-exp (fp32)");
        AssertBitEqual(Rounded(Read(cpu, rdqkv), format), Read(mixed, sdqkv), "dqkv");
    }

    [Fact]
    public void The_classifier_replaces_16_bit_logits_by_their_rounded_gradient()
    {
        const HalfFormat format = HalfFormat.Fp16;
        int N = 5, V = 11, paddedV = 16;
        var cpu = new CpuBackend();
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Fp16);
        var logits = Random(N * paddedV, 1, 4f);
        int[] targets = { 3, -100, 10, 0, 7 };
        var (rLogits, rLosses, rTargets) = (Fp32(cpu, Rounded(logits, format)), cpu.Allocate<float>(N, "l"), cpu.Allocate<int>(N, "t"));
        cpu.CopyIn<int>(targets, rTargets);
        double expected = cpu.SoftmaxCrossEntropy(rLogits, rLosses, rTargets, N, V, paddedV, 0.25f);

        var (sLogits, sLosses, sTargets) = (Stored(mixed, logits, format), mixed.Allocate<float>(N, "l"), mixed.Allocate<int>(N, "t"));
        mixed.CopyIn<int>(targets, sTargets);
        Assert.Equal(expected, mixed.SoftmaxCrossEntropy(sLogits, sLosses, sTargets, N, V, paddedV, 0.25f));
        AssertBitEqual(Rounded(Read(cpu, rLogits), format), Read(mixed, sLogits), "dlogits");
        AssertBitEqual(Read(cpu, rLosses), Read(mixed, sLosses), "losses (fp32)");
    }

    [Fact]
    public void Two_outputs_of_one_op_that_overlap_in_16_bit_storage_are_refused()
    {
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16);
        var buffer = HalfStorage.Allocate(mixed, 64, StorageFormat.Bf16, "grads");
        var x = mixed.Allocate<float>(8 * 4, "x"); var w = mixed.Allocate<float>(2 * 4, "w"); var dOut = mixed.Allocate<float>(8 * 2, "dy");
        var e = Assert.Throws<InvalidOperationException>(() =>
            mixed.MatmulBackward(buffer.Sub(0, 32), mixed.Allocate<float>(8, "dw"), buffer.Sub(30, 2), dOut, x, w, 8, 4, 2, GradientWrite.Accumulate));
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void A_mixed_precision_model_stores_activations_and_its_weight_copy_in_16_bits_and_keeps_fp32_master_weights()
    {
        var config = Presets.Get("gpt2-tiny");
        using var full = new TransformerModel(config, new CpuBackend());
        using var half = new TransformerModel(config, new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16));
        Initialization.Initialize(full, new Rng(3));
        Initialization.Initialize(half, new Rng(3));
        Assert.Equal(StorageFormat.Bf16, half.Memory.Parameters.Storage);
        Assert.Equal(2 * half.Memory.Parameters.Bytes, Assert.IsType<MixedParameters>(half.ParameterState).Masters.Bytes);
        Assert.True(half.Memory.Gradients.IsNative);

        // The master weights are the values given, unrounded; the layers compute with their bf16 rounding.
        var a = new float[full.ParameterCount]; var b = new float[half.ParameterCount];
        full.CopyParametersOut(a); half.CopyParametersOut(b);
        AssertBitEqual(a, b, "master weights");
        var copy = new float[half.ParameterCount];
        half.Backend.CopyOut(half.Memory.Parameters, copy);
        AssertBitEqual(Rounded(a, HalfFormat.Bf16), copy, "compute copy");

        int Bt = 2, T = 16;
        var tokens = Enumerable.Range(0, Bt * T).Select(i => i * 7 % config.VocabSize).ToArray();
        var targets = tokens.Skip(1).Append(0).ToArray();
        double lossFull = full.Forward(tokens, targets, Bt, T), lossHalf = half.Forward(tokens, targets, Bt, T);
        Assert.True(Math.Abs(lossFull - lossHalf) < 2e-2 * lossFull, $"bf16 loss {lossHalf} vs fp32 {lossFull}");
        Assert.NotEqual(lossFull, lossHalf);
        // Values take 2 bytes, statistics 4: the arena is a little over half of fp32's.
        Assert.InRange((double)half.ActivationBytes / full.ActivationBytes, 0.5, 0.55);
        var logits = new float[config.VocabSize];
        half.ReadLogits(3, logits);
        Assert.All(logits, v => Assert.Equal(v, StorageRounding.ToBf16(v)));
    }

    /// <summary>
    /// Cross-attention's q sits apart from its packed k|v (another activation, or other memory, lies between them).
    /// Staging must widen and narrow each buffer on its own: a span over both would write back whatever lies between,
    /// and not every bit pattern survives the round trip through fp32 (a bf16 NaN's payload comes back as 0x7FFF, which
    /// is how the bf16 case sees it; the halves of an fp32 statistic can be such NaNs). The emulated GPU tests found
    /// this as heap corruption where q and k|v were separate allocations.
    /// </summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Attention_on_separate_buffers_leaves_the_memory_between_them_alone(HalfFormat format)
    {
        using var mixed = new MixedPrecisionBackend(new CpuBackend(), format == HalfFormat.Bf16 ? PrecisionMode.Bf16 : PrecisionMode.Fp16);
        const int B = 2, Tq = 5, Tk = 7, heads = 2, hs = 4, inner = heads * hs, gap = 64;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, inner, 2 * inner, 0.5, Causal: false);
        int qCount = B * Tq * inner, kvCount = B * Tk * 2 * inner;
        // [q | gap | k|v] twice: the inputs, and the gradients the backward writes.
        Slice<float> Buffer(float[] q, float[] kv)
        {
            var all = Stored(mixed, [.. q, .. new float[gap], .. kv], format);
            var gapBits = HalfStorage.Bits(all.Sub(qCount, gap));
            // NaNs with payloads (a round trip makes them 0x7FFF) beside ordinary values.
            mixed.CopyIn<ushort>(Enumerable.Range(0, gap).Select(i => (ushort)(i % 2 == 0 ? 0x7FC1 + i : 0x3C00 + i)).ToArray(), gapBits);
            return all;
        }
        ushort[] GapBits(Slice<float> all)
        {
            var bits = new ushort[gap];
            mixed.CopyOut(HalfStorage.Bits(all.Sub(qCount, gap)), bits);
            return bits;
        }
        var inputs = Buffer(Random(qCount, 1), Random(kvCount, 2));
        var gradients = Buffer(Random(qCount, 3), Random(kvCount, 4));
        var gapBefore = GapBits(gradients);
        Slice<float> Q(Slice<float> all) => all.Sub(0, qCount);
        Slice<float> K(Slice<float> all) => all.Sub(qCount + gap, kvCount);
        Slice<float> V(Slice<float> all) => all.Sub(qCount + gap + inner, kvCount - inner);
        var output = Stored(mixed, new float[qCount], format);
        var probabilities = Stored(mixed, new float[shape.ProbabilityCount], format);
        mixed.AttentionForward(shape, output, probabilities, Q(inputs), K(inputs), V(inputs), default, default);
        mixed.AttentionBackward(shape, Q(gradients), K(gradients), V(gradients), default, Stored(mixed, Random(qCount, 5), format),
            Q(inputs), K(inputs), V(inputs), probabilities);
        Assert.Equal(gapBefore, GapBits(gradients));
        Assert.Equal(gapBefore, GapBits(inputs));
    }
}
