using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The blocked attention kernels (products on the GEMM micro-kernels) against the float64-summing reference, in
/// both the probability-keeping and the flash (lse) form: head sizes 32 (GPT-2 tiny), 64 and odd ones, lengths that
/// are no multiple of any tile, causal and bidirectional, key masks and position bias, under every kernel family;
/// and the same bits for every kernel family and thread count.
/// </summary>
public unsafe class CpuAttentionBlockedTests
{
    // As CpuAttentionTests: float32 sums of at most T·hs ≈ 5000 O(1) terms stay a few 1e-6 relative to the largest
    // element; a missing or doubled term would be ≥ 1e-3.
    const double Tolerance = 2e-5;

    public static TheoryData<int, int, int, int, int, bool, bool, bool, MatmulIsa> Cases()
    {
        var data = new TheoryData<int, int, int, int, int, bool, bool, bool, MatmulIsa>();
        foreach (var isa in new[] { MatmulIsa.Vector512, MatmulIsa.Vector256, MatmulIsa.Scalar })
        {
            data.Add(2, 37, 37, 2, 32, true, false, false, isa);   // GPT-2 tiny's head size, odd T
            data.Add(1, 70, 70, 2, 64, true, false, true, isa);    // causal with a position bias, head size 64
            data.Add(2, 13, 29, 3, 17, false, true, true, isa);    // cross-attention: odd head size, mask, bias
            data.Add(1, 300, 300, 1, 32, true, false, false, isa); // more than one K-slice (256) of keys / queries
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Both_forms_match_the_reference(int B, int Tq, int Tk, int heads, int hs, bool causal, bool masked, bool withBias, MatmulIsa isa)
    {
        if (!Supported(isa)) return;
        var rng = new Random(B * 1000 + Tq * 10 + hs);
        int inner = heads * hs, qStride = 3 * inner + 1, kvStride = 2 * inner + 3;
        var shape = new AttentionShape(B, Tq, Tk, heads, hs, qStride, kvStride, withBias ? 1.0 : 1 / Math.Sqrt(hs), causal);
        using var q = NativeBuffer.Random(B * Tq * qStride, rng);
        using var kv = NativeBuffer.Random(B * Tk * kvStride, rng);
        using var bias = NativeBuffer.Random((int)shape.BiasCount, rng);
        using var dOut = NativeBuffer.Random(B * Tq * inner, rng);
        var maskValues = new int[B * Tk];
        for (int i = 0; i < maskValues.Length; i++) maskValues[i] = masked && (i % Tk) % 5 == 3 ? 0 : 1;

        var expected = Run(shape, q, kv, bias, dOut, maskValues, masked, withBias, Form.Reference, isa);
        var kept = Run(shape, q, kv, bias, dOut, maskValues, masked, withBias, Form.Probabilities, isa);
        var flash = Run(shape, q, kv, bias, dOut, maskValues, masked, withBias, Form.Lse, isa);
        foreach (var (actual, form) in new[] { (kept, "probabilities"), (flash, "lse") })
        {
            AssertClose(expected.Output, actual.Output, $"{form}: output");
            AssertClose(expected.Dq, actual.Dq, $"{form}: dq");
            AssertClose(expected.Dkv, actual.Dkv, $"{form}: dkv");
            if (withBias) AssertClose(expected.DBias, actual.DBias, $"{form}: dBias");
        }
        AssertClose(expected.Probabilities, kept.Probabilities, "probabilities");
        MatmulAssert.BitIdentical(kept.Output, flash.Output, "ForwardLse's output against Forward's");
        if (causal)
            for (int bh = 0; bh < B * heads; bh++)
                for (int t = 0; t < Tq; t++)
                    for (int u = t + 1; u < Tk; u++)
                        Assert.Equal(0f, kept.Probabilities[((long)bh * Tq + t) * Tk + u]);
    }

    [Fact]
    public void Results_do_not_depend_on_the_kernel_family_or_thread_count()
    {
        var shape = new AttentionShape(3, 45, 45, 2, 32, 3 * 64, 2 * 64, 1 / Math.Sqrt(32), Causal: true);
        var rng = new Random(11);
        using var q = NativeBuffer.Random(3 * 45 * 3 * 64, rng);
        using var kv = NativeBuffer.Random(3 * 45 * 2 * 64, rng);
        using var bias = NativeBuffer.Random((int)shape.BiasCount, rng);
        using var dOut = NativeBuffer.Random(3 * 45 * 64, rng);
        var mask = new int[3 * 45];
        Array.Fill(mask, 1);
        Result? first = null;
        string firstName = "";
        foreach (var isa in new[] { MatmulIsa.Vector512, MatmulIsa.Vector256, MatmulIsa.Scalar })
            foreach (int threads in new[] { 1, 3 })
            {
                if (!Supported(isa)) continue;
                using var threadLimit = new ThreadLimit(threads);
                foreach (var form in new[] { Form.Probabilities, Form.Lse })
                {
                    var r = Run(shape, q, kv, bias, dOut, mask, false, true, form, isa);
                    string name = $"{isa}, {threads} threads, {form}";
                    if (form == Form.Probabilities && first is { } f)
                    {
                        MatmulAssert.BitIdentical(f.Output, r.Output, $"output: {name} vs {firstName}");
                        MatmulAssert.BitIdentical(f.Dq, r.Dq, $"dq: {name} vs {firstName}");
                        MatmulAssert.BitIdentical(f.Dkv, r.Dkv, $"dkv: {name} vs {firstName}");
                        MatmulAssert.BitIdentical(f.DBias, r.DBias, $"dBias: {name} vs {firstName}");
                    }
                    else if (form == Form.Probabilities) { first = r; firstName = name; }
                }
            }
    }

    enum Form { Reference, Probabilities, Lse }

    record Result(float[] Output, float[] Probabilities, float[] Dq, float[] Dkv, float[] DBias);

    static bool Supported(MatmulIsa isa) => isa switch
    {
        MatmulIsa.Vector512 => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated,
        MatmulIsa.Vector256 => System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported,
        _ => true,
    };

    static Result Run(AttentionShape s, NativeBuffer q, NativeBuffer kv, NativeBuffer bias, NativeBuffer dOut, int[] maskValues,
        bool masked, bool withBias, Form form, MatmulIsa isa)
    {
        int inner = s.Inner;
        using var output = NativeBuffer.Filled(s.B * s.QueryLength * inner, float.NaN); // unwritten elements would stay NaN
        using var probs = NativeBuffer.Filled((int)s.ProbabilityCount, float.NaN);
        using var lse = NativeBuffer.Filled(s.B * s.Heads * s.QueryLength, float.NaN);
        using var dq = NativeBuffer.Filled(s.B * s.QueryLength * s.QueryStride, 0.5f); // backward accumulates
        using var dkv = NativeBuffer.Filled(s.B * s.KeyLength * s.KeyValueStride, 0.25f);
        using var dBias = NativeBuffer.Filled((int)s.BiasCount, 0.125f);
        using var _ = CpuMatmul.OverrideForCurrentThread(isa, 0);
        fixed (int* pm = maskValues)
        {
            int* m = masked ? pm : null;
            float* pb = withBias ? bias.Ptr : null, pdb = withBias ? dBias.Ptr : null;
            float* k = kv.Ptr, v = kv.Ptr + inner;
            switch (form)
            {
                case Form.Reference:
                    Attention<float>.Forward(s, output.Ptr, probs.Ptr, q.Ptr, k, v, m, pb);
                    break;
                case Form.Probabilities:
                    CpuAttention.Forward(s, output.Ptr, probs.Ptr, q.Ptr, k, v, m, pb);
                    break;
                default:
                    CpuAttention.ForwardLse(s, output.Ptr, lse.Ptr, q.Ptr, k, v, m, pb);
                    break;
            }
            float[] savedProbs = probs.ToArray();
            switch (form)
            {
                case Form.Reference:
                    Attention<float>.Backward(s, dq.Ptr, dkv.Ptr, dkv.Ptr + inner, pdb, dOut.Ptr, q.Ptr, k, v, probs.Ptr);
                    break;
                case Form.Probabilities:
                    CpuAttention.Backward(s, dq.Ptr, dkv.Ptr, dkv.Ptr + inner, pdb, dOut.Ptr, q.Ptr, k, v, probs.Ptr);
                    break;
                default:
                    CpuAttention.BackwardLse(s, dq.Ptr, dkv.Ptr, dkv.Ptr + inner, pdb, dOut.Ptr, q.Ptr, k, v, lse.Ptr, m, pb);
                    break;
            }
            return new Result(output.ToArray(), savedProbs, dq.ToArray(), dkv.ToArray(), dBias.ToArray());
        }
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        double scale = expected.Max(e => Math.Abs((double)e));
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= Tolerance * scale)) Assert.Fail($"{what}[{i}] = {actual[i]:R}, reference {expected[i]:R}, |err| {err:E2} > {Tolerance:E0}·{scale:G4}");
        }
    }
}
