namespace Engine.Tests.Backends.Cpu.Kernels;

internal static class MatmulAssert
{
    private const double Unit = 1.0 / (1 << 24); // float32 unit roundoff u = 2^-24

    /// <summary>
    /// Relative tolerance (w.r.t. Σ|terms|) for a K-term float32 dot product as CpuMatmul computes it:
    /// fused-multiply-add chains of at most 256 terms (KC), whose ≤ ⌈K/256⌉ partials are then added in turn to
    /// the initial value (bias, or the pre-filled gradient). Classic recursive-summation analysis bounds the
    /// error by γ_L·Σ|terms| with L = (longest chain) + (number of chains) + 1 additions, γ_L ≈ L·u. This is a
    /// proof-backed bound (no flaky margin needed), and still ~100× tighter than what a missing or doubled term
    /// would cause (≈ Σ|terms|/K, i.e. ≥ 1e-3 relative for the K ≤ 1100 used here).
    /// </summary>
    public static double Tolerance(int k) => (Math.Min(k, 256) + (k + 255) / 256 + 2) * Unit * 1.01;

    /// <summary>Asserts |actual − (initial + expected)| ≤ tol·(|initial| + magnitude) for every element.</summary>
    public static void Close(ReadOnlySpan<float> actual, double[] expected, double[] magnitude, int k, string what,
        float[]? initial = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        double tol = Tolerance(k);
        for (int i = 0; i < expected.Length; i++)
        {
            double init = initial?[i] ?? 0;
            double want = init + expected[i];
            double bound = tol * (Math.Abs(init) + magnitude[i]) + 1e-30;
            double err = Math.Abs(actual[i] - want);
            if (!(err <= bound))
                Assert.Fail($"{what}: element {i} = {actual[i]:R}, reference {want:R}, |err| {err:E3} > bound {bound:E3} (K={k})");
        }
    }

    public static void BitIdentical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} differs: {expected[i]:R} vs {actual[i]:R}");
    }
}
