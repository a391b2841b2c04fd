namespace Engine.Tests.Backends.Cpu.Kernels;

[Collection(CpuMatmulCollection.Name)]
public class CpuMatmulBackwardTests
{
    public static TheoryData<int> Ns => new(CpuMatmulForwardTests.OddSizes);

    [Theory]
    [MemberData(nameof(Ns))]
    public void MatchesFloat64Reference_AllOddShapes(int n)
    {
        foreach (int c in CpuMatmulForwardTests.OddSizes)
            foreach (int oc in CpuMatmulForwardTests.OddSizes)
            {
                using var lc = new LinearCase(n, c, oc, seed: n * 131 + c * 17 + oc);
                CheckAgainstReference(lc);
            }
    }

    [Fact]
    public void MatchesReference_ShapeSpanningSeveralCacheBlocks()
    {
        // dweight has K = N = 530 (> 2·KC) and M = OC = 300 (> MC); dinput has K = OC = 300 and M = N = 530.
        using var lc = new LinearCase(530, 150, 300, seed: 9);
        CheckAgainstReference(lc);
    }

    [Fact]
    public void Accumulates_IntoPrefilledGradients()
    {
        // += semantics: gradient accumulation over micro-batches and residual branches depend on it.
        using var lc = new LinearCase(70, 33, 45, seed: 21);
        var rng = new Random(4);
        float[] di0 = RandomArray(rng, 70 * 33), dw0 = RandomArray(rng, 45 * 33), db0 = RandomArray(rng, 45);
        var (di, dw, db) = lc.Backward(di0, dw0, db0);
        var (inp, w, dout) = (lc.Input.ToArray(), lc.Weight.ToArray(), lc.DOut.ToArray());

        var (diRef, diMag) = ReferenceMatmul.DInput(dout, w, 70, 33, 45);
        var (dwRef, dwMag) = ReferenceMatmul.DWeight(dout, inp, 70, 33, 45);
        var (dbRef, dbMag) = ReferenceMatmul.DBias(dout, 70, 45);
        MatmulAssert.Close(di, diRef, diMag, 45, "dinput +=", initial: di0);
        MatmulAssert.Close(dw, dwRef, dwMag, 70, "dweight +=", initial: dw0);
        MatmulAssert.Close(db, dbRef, dbMag, 70, "dbias +=", initial: db0);

    }

    [Fact]
    public void NullDInputAndNullDBias_AreSkipped_OtherGradientsUnchanged()
    {
        using var lc = new LinearCase(65, 17, 63, seed: 8);
        var (_, dwFull, _) = lc.BackwardFromZero();
        var (diNone, dwNoDi, dbNone) = lc.Backward(null, new float[63 * 17], null);
        Assert.Null(diNone);
        Assert.Null(dbNone);
        MatmulAssert.BitIdentical(dwFull, dwNoDi, "dweight with null dinput/dbias");

        var (di, _, db) = lc.Backward(new float[65 * 17], new float[63 * 17], null);
        var (diFull, _, _) = lc.BackwardFromZero();
        MatmulAssert.BitIdentical(diFull, di!, "dinput with null dbias");
        Assert.Null(db);
    }

    private static void CheckAgainstReference(LinearCase lc)
    {
        var (di, dw, db) = lc.BackwardFromZero();
        var (inp, w, dout) = (lc.Input.ToArray(), lc.Weight.ToArray(), lc.DOut.ToArray());
        var (diRef, diMag) = ReferenceMatmul.DInput(dout, w, lc.N, lc.C, lc.OC);
        var (dwRef, dwMag) = ReferenceMatmul.DWeight(dout, inp, lc.N, lc.C, lc.OC);
        var (dbRef, dbMag) = ReferenceMatmul.DBias(dout, lc.N, lc.OC);
        MatmulAssert.Close(di, diRef, diMag, lc.OC, $"dinput {lc}");
        MatmulAssert.Close(dw, dwRef, dwMag, lc.N, $"dweight {lc}");
        MatmulAssert.Close(db, dbRef, dbMag, lc.N, $"dbias {lc}");
    }

    private static float[] RandomArray(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
