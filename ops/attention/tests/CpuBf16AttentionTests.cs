using Engine.Backends.Cpu;
using Engine.Backends.Mixed;
using Engine.Interop.CpuBf16;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// Attention on bf16 storage with its products on AVX-512 BF16 (ops/attention/CpuBf16Attention.cs, taken by a CPU
/// backend made with <see cref="CpuBackend.UseBf16Matmul"/>) against the staged path (every value widened, the fp32
/// kernel, outputs rounded once), both under bf16 mixed precision with the same values:
/// <list type="bullet">
/// <item>What both compute from the same bf16 products in fp32 holds to the ulp bound of the GPU's 16-bit tests (one
/// bf16 ulp, plus 1e-5 of the largest magnitude for fp32 summation order): the lse, the kept probabilities, the
/// position bias's gradient.</item>
/// <item>What goes through P or dS as a product operand: one ulp plus 2^-8 of the largest magnitude. The native path
/// rounds P (before P·V) and the scaled dS (before dS·K, dSᵀ·Q) to bf16, as the GPU's tensor-core kernels do, where
/// the staged path multiplies them in fp32: each term moves by at most 2^-9 of itself, so a sum over a row of
/// probabilities (which add up to 1) by at most 2^-9 of the largest operand, and a gradient, which goes through two
/// such roundings (P in the forward, dS or P in the backward), by twice that. Measured: at most 1.8e-3 beyond the
/// ulp over these shapes. (FlashAttentionTests hold the GPU's tensor-core kernels to 1e-2.)</item>
/// </list>
/// Shapes have tails everywhere (rows not multiples of the 8-row tile, head sizes below and above the 48-column
/// tile, odd key counts: a zero-padded last pair). Also: no op is staged on the native side, and the bits do not depend
/// on the thread count. Skipped where the CPU has no AVX-512 BF16 or the library was not built.
/// </summary>
public class CpuBf16AttentionTests
{
    const double PairedProducts = 1.0 / 256, SameProducts = 1e-5;

    static void RequireNative() => Assert.SkipUnless(CpuBf16Gemm.Available, $"no native bf16 products: {CpuBf16Gemm.Reason}");

    /// <summary>Staged (plain CPU backend) and native (bf16 products) mixed-precision backends over the same values.</summary>
    sealed class Pair : IDisposable
    {
        public readonly MixedPrecisionBackend Staged = new(new CpuBackend(), PrecisionMode.Bf16), Native;
        readonly Random rng;

        public Pair(int seed)
        {
            var cpu = new CpuBackend();
            cpu.UseBf16Matmul();
            Native = new MixedPrecisionBackend(cpu, PrecisionMode.Bf16);
            rng = new Random(seed);
        }

        public float[] Random(int n, double scale = 1) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();

        public (Slice<float> S, Slice<float> N) Bf16(float[] values)
        {
            var s = HalfStorage.Allocate(Staged, values.Length, StorageFormat.Bf16, "test"); Staged.CopyIn<float>(values, s);
            var n = HalfStorage.Allocate(Native, values.Length, StorageFormat.Bf16, "test"); Native.CopyIn<float>(values, n);
            return (s, n);
        }

        public (Slice<float> S, Slice<float> N) Fp32(float[] values)
        {
            var s = Staged.Allocate<float>(values.Length, "test"); Staged.CopyIn<float>(values, s);
            var n = Native.Allocate<float>(values.Length, "test"); Native.CopyIn<float>(values, n);
            return (s, n);
        }

        public (Slice<int> S, Slice<int> N) Ints(int[] values)
        {
            var s = Staged.Allocate<int>(values.Length, "test"); Staged.CopyIn<int>(values, s);
            var n = Native.Allocate<int>(values.Length, "test"); Native.CopyIn<int>(values, n);
            return (s, n);
        }

        public (float[] S, float[] N) Read((Slice<float> S, Slice<float> N) pair)
        {
            var s = new float[pair.S.Length]; Staged.CopyOut(pair.S, s);
            var n = new float[pair.N.Length]; Native.CopyOut(pair.N, n);
            return (s, n);
        }

        /// <summary>|native − staged| ≤ one bf16 ulp of the larger (zero for an fp32 output) + tolerance · the largest |staged|.</summary>
        public void AssertClose((Slice<float> S, Slice<float> N) pair, string what, double tolerance)
        {
            var (staged, native) = Read(pair);
            double scale = staged.Max(v => Math.Abs((double)v));
            bool bf16 = pair.S.Storage == StorageFormat.Bf16;
            for (int i = 0; i < staged.Length; i++)
            {
                double larger = Math.Max(Math.Abs(staged[i]), Math.Abs(native[i]));
                double ulp = bf16 ? Math.Pow(2, Math.Max(Math.ILogB(Math.Max(larger, 1e-38)), -126) - 7) : 0;
                double error = Math.Abs((double)native[i] - staged[i]), bound = ulp + tolerance * scale;
                if (!(error <= bound))
                    Assert.Fail($"{what}[{i}]: native {native[i]:R}, staged {staged[i]:R} (|err| {error:E2} > {bound:E2}: {(bf16 ? "one bf16 ulp + " : "")}{tolerance:E0}·{scale:G4})");
            }
        }

        public void Dispose() { Staged.Dispose(); Native.Dispose(); }
    }

    static Slice<float> From(Slice<float> x, int column) => x.Sub(column, x.Length - column);

    /// <summary>Self-attention as every layer runs it (flash form: lse kept, P recomputed in backward).</summary>
    [Theory]
    [InlineData(2, 45, 36, 3, true, false, false)]   // GPT-2's causal attention, head size 12, 45 rows: tile tails
    [InlineData(2, 70, 128, 2, true, false, false)]  // head size 64: two 48-column panels
    [InlineData(3, 40, 64, 2, false, true, false)]   // BERT: bidirectional with padding keys (one row all padding)
    [InlineData(2, 33, 64, 4, false, true, true)]    // T5's encoder: padding and a position bias, scale 1
    [InlineData(2, 29, 32, 2, true, false, true)]    // T5's decoder: causal with a position bias
    public void Flash_attention_on_bf16_values_follows_the_staged_op(int B, int T, int C, int heads, bool causal, bool padded, bool positionBias)
    {
        RequireNative();
        using var p = new Pair(B * 100 + T);
        var shape = AttentionShape.Packed(B, T, C, heads, causal, positionBias ? 1.0 : null);
        var qkv = p.Bf16(p.Random(B * T * 3 * C));
        var mask = padded ? p.Ints(Enumerable.Range(0, B * T).Select(i => i / T == 0 ? 1 : i / T == 1 ? (i % T < T - 9 ? 1 : 0) : 0).ToArray()) : default;
        var bias = positionBias ? p.Bf16(p.Random(heads * T * T)) : default;
        var output = p.Bf16(new float[B * T * C]);
        var lse = p.Fp32(new float[B * heads * T]);
        foreach (var (backend, side) in new[] { (p.Staged, 0), (p.Native, 1) })
            backend.FlashAttentionForward(shape, Side(output, side), Side(lse, side), Side(qkv, side), From(Side(qkv, side), C), From(Side(qkv, side), 2 * C), Side(mask, side), Side(bias, side));
        p.AssertClose(output, "output", PairedProducts);
        AssertLseClose(p.Read(lse));

        var dOut = p.Bf16(p.Random(B * T * C));
        var dqkv = p.Bf16(p.Random(B * T * 3 * C, 1e-2)); // accumulated onto (small, so the products dominate the bound's scale)
        var dBias = positionBias ? p.Fp32(p.Random(heads * T * T)) : default;
        foreach (var (backend, side) in new[] { (p.Staged, 0), (p.Native, 1) })
            backend.FlashAttentionBackward(shape, Side(dqkv, side), From(Side(dqkv, side), C), From(Side(dqkv, side), 2 * C), Side(dBias, side), Side(dOut, side),
                Side(qkv, side), From(Side(qkv, side), C), From(Side(qkv, side), 2 * C), Side(output, side), Side(lse, side), Side(mask, side), Side(bias, side));
        p.AssertClose(dqkv, "d qkv (accumulated)", PairedProducts);
        if (positionBias) p.AssertClose(dBias, "d position bias (fp32, accumulated)", SameProducts);
        Assert.Equal(0, p.Native.StagedOps);
        Assert.Equal(2, p.Staged.StagedOps);
    }

    /// <summary>The probability-keeping form (T5's cross-attention: Tq ≠ Tk, q apart from packed k|v, key padding),
    /// here also with a position bias and its gradient, which that form takes too.</summary>
    [Theory]
    [InlineData(2, 9, 14, 2, 6, false)]
    [InlineData(2, 17, 53, 3, 40, true)]
    public void Attention_keeping_probabilities_on_bf16_values_follows_the_staged_op(int B, int Tq, int Tk, int heads, int hs, bool positionBias)
    {
        RequireNative();
        using var p = new Pair(Tq * 100 + Tk);
        int inner = heads * hs;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, inner, 2 * inner, 1.0, Causal: false);
        var q = p.Bf16(p.Random(B * Tq * inner));
        var kv = p.Bf16(p.Random(B * Tk * 2 * inner));
        var mask = p.Ints(Enumerable.Range(0, B * Tk).Select(i => i % Tk < (i / Tk == 0 ? Tk : 5) ? 1 : 0).ToArray());
        var bias = positionBias ? p.Bf16(p.Random((int)shape.BiasCount)) : default;
        var output = p.Bf16(new float[B * Tq * inner]);
        var probabilities = p.Bf16(new float[shape.ProbabilityCount]);
        foreach (var (backend, side) in new[] { (p.Staged, 0), (p.Native, 1) })
            backend.AttentionForward(shape, Side(output, side), Side(probabilities, side), Side(q, side), Side(kv, side), From(Side(kv, side), inner), Side(mask, side), Side(bias, side));
        p.AssertClose(output, "output", PairedProducts);
        p.AssertClose(probabilities, "probabilities", SameProducts);

        var dOut = p.Bf16(p.Random(B * Tq * inner));
        var dq = p.Bf16(p.Random(B * Tq * inner, 1e-2)); // accumulated onto (small, so the products dominate the bound's scale)
        var dkv = p.Bf16(p.Random(B * Tk * 2 * inner, 1e-2));
        var dBias = positionBias ? p.Fp32(p.Random((int)shape.BiasCount)) : default;
        foreach (var (backend, side) in new[] { (p.Staged, 0), (p.Native, 1) })
            backend.AttentionBackward(shape, Side(dq, side), Side(dkv, side), From(Side(dkv, side), inner), Side(dBias, side), Side(dOut, side),
                Side(q, side), Side(kv, side), From(Side(kv, side), inner), Side(probabilities, side));
        p.AssertClose(dq, "d query", PairedProducts);
        p.AssertClose(dkv, "d key-value", PairedProducts);
        if (positionBias) p.AssertClose(dBias, "d position bias (fp32, accumulated)", SameProducts);
        Assert.Equal(0, p.Native.StagedOps);
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        RequireNative();
        const int B = 3, T = 37, C = 96, heads = 2;
        var shape = AttentionShape.Packed(B, T, C, heads, causal: true, scale: 1.0);
        float[] Run(int threads)
        {
            using var threadLimit = new ThreadLimit(threads);
            using var p = new Pair(7);
            var qkv = p.Bf16(p.Random(B * T * 3 * C)).N;
            var bias = p.Bf16(p.Random(heads * T * T)).N;
            var output = p.Bf16(new float[B * T * C]).N;
            var lse = p.Fp32(new float[B * heads * T]).N;
            var dqkv = p.Bf16(new float[B * T * 3 * C]).N;
            var dBias = p.Fp32(new float[heads * T * T]).N;
            var dOut = p.Bf16(p.Random(B * T * C)).N;
            p.Native.FlashAttentionForward(shape, output, lse, qkv, From(qkv, C), From(qkv, 2 * C), default, bias);
            p.Native.FlashAttentionBackward(shape, dqkv, From(dqkv, C), From(dqkv, 2 * C), dBias, dOut, qkv, From(qkv, C), From(qkv, 2 * C), output, lse, default, bias);
            float[] Values(Slice<float> s) { var v = new float[s.Length]; p.Native.CopyOut(s, v); return v; }
            return [.. Values(output), .. Values(lse), .. Values(dqkv), .. Values(dBias)];
        }
        var one = Run(1).Select(BitConverter.SingleToUInt32Bits).ToArray();
        Assert.Equal(one, Run(3).Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(one, Run(8).Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void Values_in_mixed_storage_are_refused_by_name()
    {
        RequireNative();
        var cpu = new CpuBackend();
        cpu.UseBf16Matmul();
        using var _ = cpu;
        var shape = AttentionShape.Packed(1, 4, 8, 2, causal: true);
        var qkv = HalfStorage.Allocate(cpu, 4 * 24, StorageFormat.Bf16, "qkv");
        var output = cpu.Allocate<float>(4 * 8, "output"); // fp32 beside bf16 q, k, v
        var lse = cpu.Allocate<float>(2 * 4, "lse");
        var refused = Assert.Throws<ArgumentException>(() => cpu.FlashAttentionForward(shape, output, lse, qkv, From(qkv, 8), From(qkv, 16), default, default));
        Assert.Contains("output", refused.Message);
        Assert.Contains("bf16", refused.Message);
    }

    static Slice<T> Side<T>((Slice<T> S, Slice<T> N) pair, int side) where T : unmanaged => side == 0 ? pair.S : pair.N;

    /// <summary>The lse from the same bf16 products in fp32: 1e-5 relative (+∞ alike for rows with no visible key).</summary>
    static void AssertLseClose((float[] S, float[] N) lse)
    {
        for (int i = 0; i < lse.S.Length; i++)
            if (float.IsPositiveInfinity(lse.S[i]) ? !float.IsPositiveInfinity(lse.N[i]) : !(Math.Abs(lse.N[i] - lse.S[i]) <= SameProducts * Math.Max(1, Math.Abs(lse.S[i]))))
                Assert.Fail($"lse[{i}]: native {lse.N[i]:R}, staged {lse.S[i]:R}");
    }
}
