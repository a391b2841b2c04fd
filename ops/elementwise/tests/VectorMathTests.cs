using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>VectorMath's exp and erfc against float64 over dense sweeps, on all three paths (they must agree bit for bit).</summary>
public class VectorMathTests
{
    /// <summary>Every path's value at x, checked to be the same bits.</summary>
    static float ExpAllPaths(float x)
    {
        float scalar = VectorMath.Exp(x);
        if (Vector256.IsHardwareAccelerated) Assert.Equal(scalar, VectorMath.Exp(Vector256.Create(x)).GetElement(3));
        if (Vector512.IsHardwareAccelerated) Assert.Equal(scalar, VectorMath.Exp(Vector512.Create(x)).GetElement(11));
        return scalar;
    }

    static float ErfcAllPaths(float z)
    {
        float scalar = VectorMath.ErfcOfNonNegative(z);
        if (Vector256.IsHardwareAccelerated) Assert.Equal(scalar, VectorMath.ErfcOfNonNegative(Vector256.Create(z)).GetElement(5));
        if (Vector512.IsHardwareAccelerated) Assert.Equal(scalar, VectorMath.ErfcOfNonNegative(Vector512.Create(z)).GetElement(14));
        return scalar;
    }

    [Fact]
    public void Exp_is_within_its_stated_relative_error()
    {
        double worst = 0;
        float worstAt = 0;
        for (int k = 0; k <= 2_000_000; k++)
        {
            float x = -87f + 175f * k / 2_000_000; // [−87, 88], step ≈ 9e-5
            double exact = Math.Exp(x), error = Math.Abs(ExpAllPaths(x) - exact) / exact;
            if (error > worst) (worst, worstAt) = (error, x);
        }
        // Stated in VectorMath's doc comment: 1.5e-7 (≈ 1.3 ulp: the Taylor tail 6e-9 plus float32 rounding).
        Assert.True(worst <= 1.5e-7, $"max relative error {worst:E3} at x = {worstAt:R}");
    }

    [Fact]
    public void Exp_underflows_to_zero_and_keeps_its_edges()
    {
        Assert.Equal(0f, ExpAllPaths(-88f));
        Assert.Equal(0f, ExpAllPaths(float.NegativeInfinity));
        Assert.Equal(1f, ExpAllPaths(0f));
        double exact = Math.Exp((double)-87.3f);
        Assert.True(Math.Abs(ExpAllPaths(-87.3f) - exact) / exact < 1.5e-7);
    }

    [Fact]
    public void Erfc_and_erf_are_within_their_stated_errors()
    {
        double worstRelative = 0, worstErf = 0;
        for (int k = 0; k <= 1_000_000; k++)
        {
            float z = 4f * k / 1_000_000; // [0, 4]: the reference 1 − erf keeps 1e-8 relative accuracy up to erfc(4) ≈ 1.5e-8
            double exact = 1 - Erf.Of(z), got = ErfcAllPaths(z);
            worstRelative = Math.Max(worstRelative, Math.Abs(got - exact) / exact);
            worstErf = Math.Max(worstErf, Math.Abs(VectorMath.Erf(z) - Erf.Of(z)));
            worstErf = Math.Max(worstErf, Math.Abs(VectorMath.Erf(-z) + Erf.Of(z)));
        }
        for (int k = 0; k <= 100_000; k++)
        {
            // [4, 9]: erfc(z) ≈ e^(−z²)/(z√π)·(1 − 1/(2z²) + 3/(4z⁴) − 15/(8z⁶)), good to 1e-5 relative at z = 4 …
            // so only absolute error is checked here (erfc < 1.6e-8): the fit must not blow up in the tail.
            float z = 4f + 5f * k / 100_000;
            Assert.True(Math.Abs(ErfcAllPaths(z)) <= 1.6e-8, $"erfc({z}) = {ErfcAllPaths(z)}");
        }
        // Stated in VectorMath's doc comment: erfc 2e-6 relative on [0, 4] (the float32 rounding of −z² + P(t), an
        // argument up to ~17, moves exp by up to that much); erf 4e-7 absolute.
        Assert.True(worstRelative <= 2e-6 && worstErf <= 4e-7, $"erfc max relative error {worstRelative:E3}, erf max absolute error {worstErf:E3}");
    }
}
