using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Mixed;
using Engine.Interop.CpuBf16;
using Engine.Models;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Backends.Cpu;

/// <summary>
/// The CPU's native bf16 matrix products (native/cpu_bf16_gemm.c through CpuBackend.Bf16Matmul.cs) against a float64
/// reference on the same bf16 values, on sizes with tails everywhere (K odd: vdpbf16ps' last pair is padded with a
/// zero; rows and columns not multiples of the 8×48 tile); their independence from the thread count; and the choice
/// of path (the staged fallback when forced off, or for fp16). Tests that run the kernel skip where the CPU has no
/// AVX-512 BF16 or the library was not built.
/// </summary>
public class CpuBf16MatmulTests
{
    static void RequireNative() => Assert.SkipUnless(CpuBf16Gemm.Available, $"no native bf16 matrix products: {CpuBf16Gemm.Reason}");

    static CpuBackend NativeBackend()
    {
        var cpu = new CpuBackend();
        cpu.UseBf16Matmul();
        return cpu;
    }

    /// <summary>Random values that bf16 holds exactly, spread over a few binades.</summary>
    static float[] Bf16Values(Random rng, int n) =>
        Enumerable.Range(0, n).Select(_ => Bf16.ToFloat(Bf16.FromFloat((float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-3, 3)))))).ToArray();

    static Slice<float> Bf16Slice(IBackend b, float[] values)
    {
        var s = HalfStorage.Allocate(b, values.Length, StorageFormat.Bf16, "test");
        b.CopyIn<ushort>(values.Select(Bf16.FromFloat).ToArray(), HalfStorage.Bits(s));
        return s;
    }

    static Slice<float> FloatSlice(IBackend b, float[] values)
    {
        var s = b.Allocate<float>(values.Length, "test");
        b.CopyIn<float>(values, s);
        return s;
    }

    static float[] Values(IBackend b, Slice<float> s)
    {
        if (s.IsNative) { var f = new float[s.Length]; b.CopyOut(s, f); return f; }
        var bits = new ushort[s.Length];
        b.CopyOut(HalfStorage.Bits(s), bits);
        return bits.Select(Bf16.ToFloat).ToArray();
    }

    /// <summary>
    /// |actual − expected| within fp32 accumulation's bound, (K + 2)·2^-24·Σ|terms| (K products summed in pairs, plus
    /// the old value or the bias), plus half a bf16 place of the result when the output is stored in bf16.
    /// </summary>
    static void AssertClose(double[] expected, double[] magnitude, float[] actual, int K, bool bf16Output, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = (K + 2) * Math.Pow(2, -24) * magnitude[i] + (bf16Output ? Math.Pow(2, -8) * Math.Abs(expected[i]) : 0) + 1e-30;
            Assert.True(Math.Abs(actual[i] - expected[i]) <= bound, $"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R} (bound {bound:G3})");
        }
    }

    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 1, 1, 1 }, { 3, 5, 7 }, { 9, 33, 49 }, { 17, 64, 48 }, { 37, 31, 97 }, { 64, 96, 130 }, { 130, 57, 20 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Products_match_the_float64_reference_on_bf16_values(int N, int C, int OC)
    {
        RequireNative();
        var rng = new Random(N * 1000 + C * 10 + OC);
        float[] x = Bf16Values(rng, N * C), w = Bf16Values(rng, OC * C), bias = Bf16Values(rng, OC), dOut = Bf16Values(rng, N * OC);
        float[] dIn0 = Bf16Values(rng, N * C), dW0 = Bf16Values(rng, OC * C), dB0 = Bf16Values(rng, OC);
        using var cpu = NativeBackend();
        var output = HalfStorage.Allocate(cpu, N * OC, StorageFormat.Bf16, "out");
        cpu.MatmulForward(output, Bf16Slice(cpu, x), Bf16Slice(cpu, w), Bf16Slice(cpu, bias), N, C, OC);
        var dIn = Bf16Slice(cpu, dIn0);
        var dW = FloatSlice(cpu, dW0);
        var dB = FloatSlice(cpu, dB0);
        cpu.MatmulBackward(dIn, dW, dB, Bf16Slice(cpu, dOut), Bf16Slice(cpu, x), Bf16Slice(cpu, w), N, C, OC, GradientWrite.Accumulate);

        var f = new double[N * OC]; var fm = new double[N * OC];
        var di = new double[N * C]; var dim = new double[N * C];
        var dw = new double[OC * C]; var dwm = new double[OC * C];
        var db = new double[OC]; var dbm = new double[OC];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                double s = bias[o], m = Math.Abs(bias[o]);
                for (int c = 0; c < C; c++) { double t = (double)x[n * C + c] * w[o * C + c]; s += t; m += Math.Abs(t); }
                f[n * OC + o] = s; fm[n * OC + o] = m;
            }
        for (int i = 0; i < N * C; i++) { di[i] = dIn0[i]; dim[i] = Math.Abs(dIn0[i]); }
        for (int i = 0; i < OC * C; i++) { dw[i] = dW0[i]; dwm[i] = Math.Abs(dW0[i]); }
        for (int o = 0; o < OC; o++) { db[o] = dB0[o]; dbm[o] = Math.Abs(dB0[o]); }
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                double d = dOut[n * OC + o];
                db[o] += d; dbm[o] += Math.Abs(d);
                for (int c = 0; c < C; c++)
                {
                    double ti = d * w[o * C + c], tw = d * x[n * C + c];
                    di[n * C + c] += ti; dim[n * C + c] += Math.Abs(ti);
                    dw[o * C + c] += tw; dwm[o * C + c] += Math.Abs(tw);
                }
            }
        AssertClose(f, fm, Values(cpu, output), C, bf16Output: true, "output");
        AssertClose(di, dim, Values(cpu, dIn), OC, bf16Output: true, "dInput");
        AssertClose(dw, dwm, Values(cpu, dW), N, bf16Output: false, "dWeight");
        AssertClose(db, dbm, Values(cpu, dB), N, bf16Output: false, "dBias");
    }

    [Fact]
    public void Fp32_stored_operands_of_bf16_values_give_the_bf16_stored_bits()
    {
        RequireNative();
        const int N = 21, C = 35, OC = 50;
        var rng = new Random(5);
        float[] x = Bf16Values(rng, N * C), w = Bf16Values(rng, OC * C), dOut = Bf16Values(rng, N * OC);
        using var cpu = NativeBackend();
        float[] Run(Func<IBackend, float[], Slice<float>> store)
        {
            var output = cpu.Allocate<float>(N * OC, "out");
            var dIn = cpu.Allocate<float>(N * C, "dIn");
            var dW = cpu.Allocate<float>(OC * C, "dW");
            cpu.MatmulForward(output, store(cpu, x), store(cpu, w), default, N, C, OC);
            cpu.MatmulBackward(dIn, dW, default, store(cpu, dOut), store(cpu, x), store(cpu, w), N, C, OC, GradientWrite.Accumulate);
            return [.. Values(cpu, output), .. Values(cpu, dIn), .. Values(cpu, dW)];
        }
        Assert.Equal(Run(Bf16Slice).Select(BitConverter.SingleToUInt32Bits), Run(FloatSlice).Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        RequireNative();
        const int N = 67, C = 129, OC = 301;
        var rng = new Random(9);
        float[] x = Bf16Values(rng, N * C), w = Bf16Values(rng, OC * C), bias = Bf16Values(rng, OC), dOut = Bf16Values(rng, N * OC);
        float[] Run(int threads)
        {
            using var threadLimit = new ThreadLimit(threads);
            using var cpu = NativeBackend();
            var output = HalfStorage.Allocate(cpu, N * OC, StorageFormat.Bf16, "out");
            var dIn = HalfStorage.Allocate(cpu, N * C, StorageFormat.Bf16, "dIn");
            var dW = cpu.Allocate<float>(OC * C, "dW");
            var dB = cpu.Allocate<float>(OC, "dB");
            cpu.MatmulForward(output, Bf16Slice(cpu, x), Bf16Slice(cpu, w), Bf16Slice(cpu, bias), N, C, OC);
            cpu.MatmulBackward(dIn, dW, dB, Bf16Slice(cpu, dOut), Bf16Slice(cpu, x), Bf16Slice(cpu, w), N, C, OC, GradientWrite.Accumulate);
            return [.. Values(cpu, output), .. Values(cpu, dIn), .. Values(cpu, dW), .. Values(cpu, dB)];
        }
        var one = Run(1).Select(BitConverter.SingleToUInt32Bits).ToArray();
        Assert.Equal(one, Run(3).Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(one, Run(8).Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void Forced_off_bf16_keeps_the_staged_path()
    {
        var (native, why) = CpuBackend.Bf16MatmulChoice(HalfFormat.Bf16, "off");
        Assert.False(native);
        Assert.Contains("ENGINE_CPU_BF16=off", why);
        using var cpu = new CpuBackend();
        Assert.Equal(HalfStorageOps.None, cpu.NativeHalfStorage);
        Assert.Null(cpu.HalfMatmulOperands);
        // The mixed layer over it stages the products (the fp32 kernel on widened copies).
        using var mixed = new MixedPrecisionBackend(cpu, PrecisionMode.Bf16);
        var output = HalfStorage.Allocate(mixed, 4, StorageFormat.Bf16, "out");
        mixed.MatmulForward(output, Bf16Slice(mixed, [1, 2, 3, 4]), Bf16Slice(mixed, [0.5f, 0.25f, 1, 0]), default, 2, 2, 2);
        Assert.Equal(1, mixed.StagedOps);
        Assert.Equal([1f, 1f, 2.5f, 3f], Values(mixed, output));
    }

    [Fact]
    public void Auto_chooses_native_bf16_only_where_available_and_never_for_fp16_or_fp32()
    {
        Assert.Equal(CpuBf16Gemm.Available, CpuBackend.Bf16MatmulChoice(HalfFormat.Bf16, "auto").Native);
        Assert.False(CpuBackend.Bf16MatmulChoice(HalfFormat.Fp16, "auto").Native);
        Assert.Equal((false, ""), CpuBackend.Bf16MatmulChoice(null, "auto"));
        var refused = Assert.Throws<EngineException>(() => CpuBackend.Bf16MatmulChoice(HalfFormat.Bf16, "sometimes"));
        Assert.Contains("ENGINE_CPU_BF16=sometimes", refused.Message);
        Assert.Contains("auto", refused.Message);
    }

    [Fact]
    public void A_native_mixed_layer_hands_the_products_over_unstaged()
    {
        RequireNative();
        using var mixed = new MixedPrecisionBackend(NativeBackend(), PrecisionMode.Bf16);
        var output = HalfStorage.Allocate(mixed, 4, StorageFormat.Bf16, "out");
        mixed.MatmulForward(output, Bf16Slice(mixed, [1, 2, 3, 4]), Bf16Slice(mixed, [0.5f, 0.25f, 1, 0]), default, 2, 2, 2);
        Assert.Equal(0, mixed.StagedOps);
        Assert.Equal([1f, 1f, 2.5f, 3f], Values(mixed, output));
    }

    /// <summary>One training step's loss and gradients of a tiny model: native products against the staged ones. The
    /// two sum the same bf16 products in fp32 in different orders (and round the staged dInput after the fp32 kernel
    /// rather than in the epilogue), so they differ by fp32 rounding propagated through the model: the loss within
    /// 1e-3 relative, the gradients within 2e-2 of the largest gradient's magnitude (a few bf16 places).</summary>
    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("bert-tiny")]
    [InlineData("t5-tiny")]
    public void A_model_step_with_native_products_follows_the_staged_step(string preset)
    {
        RequireNative();
        var config = TinyModels.Config(preset);
        var (inputs, targets) = TinyModels.RandomBatch(config, new Rng(4));
        using var stagedBackend = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16);
        using var nativeBackend = new MixedPrecisionBackend(NativeBackend(), PrecisionMode.Bf16);
        var staged = TinyModels.MixedStep(config, stagedBackend, inputs, targets);
        var native = TinyModels.MixedStep(config, nativeBackend, inputs, targets);
        Assert.True(Math.Abs(native.Loss - staged.Loss) <= 1e-3 * Math.Abs(staged.Loss), $"loss {native.Loss:R} native, {staged.Loss:R} staged");
        double scale = staged.Gradients.Max(g => Math.Abs(g));
        for (int i = 0; i < staged.Gradients.Length; i++)
            Assert.True(Math.Abs(native.Gradients[i] - staged.Gradients[i]) <= 2e-2 * scale, $"gradient {i}: {native.Gradients[i]:R} native, {staged.Gradients[i]:R} staged");
        Assert.True(native.Staged < staged.Staged, "the matrix products should no longer be staged");
    }
}
