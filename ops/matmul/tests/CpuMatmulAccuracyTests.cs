namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The engine's HF-exactness tests need the matmul to agree with a float64 reference to ~1e-6 relative for
/// C ≤ 1024. Measured (uniform [-1,1) inputs, C = 1024): max|err|/max|ref| ≈ 2.5e-7–4e-7 and ‖err‖/‖ref‖ ≈ 1.5e-7–3e-7
/// for out, dinput, dweight and dbias; errors relative to Σ|terms| stay below 3e-7. The float32 output's own
/// rounding already contributes 6e-8.
/// </summary>
[Collection(CpuMatmulCollection.Name)]
public class CpuMatmulAccuracyTests
{
    private const double Required = 1e-6;

    [Theory]
    [InlineData(64, 1024, 64)]
    [InlineData(2048, 64, 48)] // long K for dweight/dbias (K = N)
    public void AgreesWithFloat64To1e6(int n, int c, int oc)
    {
        using var lc = new LinearCase(n, c, oc, seed: 2024);
        var (inp, w, b, dout) = (lc.Input.ToArray(), lc.Weight.ToArray(), lc.Bias.ToArray(), lc.DOut.ToArray());
        float[] output = lc.Forward(withBias: true);
        var (di, dw, db) = lc.BackwardFromZero();
        Check(output, ReferenceMatmul.Forward(inp, w, b, n, c, oc).Value, "forward");
        Check(di, ReferenceMatmul.DInput(dout, w, n, c, oc).Value, "dinput");
        Check(dw, ReferenceMatmul.DWeight(dout, inp, n, c, oc).Value, "dweight");
        Check(db, ReferenceMatmul.DBias(dout, n, oc).Value, "dbias");
    }

    private static void Check(float[] got, double[] want, string what)
    {
        double maxErr = 0, maxRef = 0, sumErr2 = 0, sumRef2 = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double e = Math.Abs(got[i] - want[i]);
            maxErr = Math.Max(maxErr, e);
            maxRef = Math.Max(maxRef, Math.Abs(want[i]));
            sumErr2 += e * e;
            sumRef2 += want[i] * want[i];
        }
        double maxRel = maxErr / maxRef, normRel = Math.Sqrt(sumErr2 / sumRef2);
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: max|err|/max|ref| = {maxRel:E2}, ‖err‖/‖ref‖ = {normRel:E2}");
        Assert.True(maxRel <= Required, $"{what}: max|err|/max|ref| = {maxRel:E2} > {Required:E0}");
        Assert.True(normRel <= Required, $"{what}: ‖err‖/‖ref‖ = {normRel:E2} > {Required:E0}");
    }
}
