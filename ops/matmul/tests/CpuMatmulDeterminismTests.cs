using Engine.Backends.Cpu.Kernels;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The engine promises bit-exact resume, so the kernels must give the same bits every run, whatever the
/// thread count or scheduling, and (by construction: same K-slicing and FMA order everywhere) whatever ISA.
/// </summary>
[Collection(CpuMatmulCollection.Name)]
public class CpuMatmulDeterminismTests
{
    // Big enough that the planner makes many tiles (2·N·C·OC ≈ 80 MFLOP ⇒ up to 20 tasks), with tails everywhere.
    private const int N = 515, C = 300, OC = 263;

    [Fact]
    public void SameBits_AcrossRuns_AndThreadCounts()
    {
        using var lc = new LinearCase(N, C, OC, seed: 77);
        var baseline = Run(lc, MatmulIsa.Auto, threads: 1);
        foreach (int threads in new[] { 1, 2, 3, 5, 8 })
            for (int run = 0; run < 2; run++)
                AssertSame(baseline, Run(lc, MatmulIsa.Auto, threads), $"threads={threads} run={run}");
    }

    [Theory]
    [InlineData(MatmulIsa.Vector256)]
    [InlineData(MatmulIsa.Scalar)]
    [InlineData(MatmulIsa.Vector512)] // software-emulated (slow) where AVX-512 is absent: still the same arithmetic
    public void SameBits_AcrossIsas(MatmulIsa isa)
    {
        // Smaller shape: the forced Vector512 path may be emulated. Still > KC in every K, with tails.
        using var lc = new LinearCase(97, 263, 270, seed: 78);
        var scalar = Run(lc, MatmulIsa.Scalar, threads: 2);
        AssertSame(scalar, Run(lc, isa, threads: 2), $"{isa} vs Scalar");
        AssertSame(scalar, Run(lc, isa, threads: 1), $"{isa} 1 thread vs Scalar");
    }

    [Theory]
    [InlineData(MatmulIsa.Vector256)]
    [InlineData(MatmulIsa.Scalar)]
    [InlineData(MatmulIsa.Vector512)]
    public void EachIsa_MatchesReference_OnTailShapes(MatmulIsa isa)
    {
        using var _ = CpuMatmul.OverrideForCurrentThread(isa, 2);
        foreach (var (n, c, oc) in new[] { (1, 1, 1), (7, 3, 33), (9, 257, 17), (33, 65, 65), (130, 17, 70) })
        {
            using var lc = new LinearCase(n, c, oc, seed: n + c + oc);
            float[] got = lc.Forward(withBias: true);
            var (inp, w, dout) = (lc.Input.ToArray(), lc.Weight.ToArray(), lc.DOut.ToArray());
            var (want, mag) = ReferenceMatmul.Forward(inp, w, lc.Bias.ToArray(), n, c, oc);
            MatmulAssert.Close(got, want, mag, c, $"{isa} forward {lc}");
            var (di, dw, db) = lc.BackwardFromZero();
            var (diRef, diMag) = ReferenceMatmul.DInput(dout, w, n, c, oc);
            var (dwRef, dwMag) = ReferenceMatmul.DWeight(dout, inp, n, c, oc);
            var (dbRef, dbMag) = ReferenceMatmul.DBias(dout, n, oc);
            MatmulAssert.Close(di, diRef, diMag, oc, $"{isa} dinput {lc}");
            MatmulAssert.Close(dw, dwRef, dwMag, n, $"{isa} dweight {lc}");
            MatmulAssert.Close(db, dbRef, dbMag, n, $"{isa} dbias {lc}");
        }
    }

    private static (float[] Out, float[] DIn, float[] DW, float[] DB) Run(LinearCase lc, MatmulIsa isa, int threads)
    {
        using var _ = CpuMatmul.OverrideForCurrentThread(isa, threads);
        float[] output = lc.Forward(withBias: true);
        var (di, dw, db) = lc.BackwardFromZero();
        return (output, di, dw, db);
    }

    private static void AssertSame((float[] Out, float[] DIn, float[] DW, float[] DB) a,
        (float[] Out, float[] DIn, float[] DW, float[] DB) b, string what)
    {
        MatmulAssert.BitIdentical(a.Out, b.Out, $"forward {what}");
        MatmulAssert.BitIdentical(a.DIn, b.DIn, $"dinput {what}");
        MatmulAssert.BitIdentical(a.DW, b.DW, $"dweight {what}");
        MatmulAssert.BitIdentical(a.DB, b.DB, $"dbias {what}");
    }
}
