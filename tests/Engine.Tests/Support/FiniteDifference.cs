namespace Engine.Tests.Support;

/// <summary>
/// Central finite differences in float64, the yardstick every op's backward is checked against (ops/FAMILY/tests/
/// *GradientTests), in float64 through the same generic code the float32 backend runs. Loss = Σ w·output with random w,
/// so dOutput = w. Sizes are small and odd on purpose. Tolerance 1e-6: central differences with h = 1e-6 in float64
/// carry ~1e-9 truncation and rounding error per element, so 1e-6 relative leaves room while still catching any wrong
/// term (those show up at 1e-2 or worse).
/// </summary>
public static class FiniteDifference
{
    /// <summary>∂loss/∂x[i] ≈ (loss(x + h·eᵢ) − loss(x − h·eᵢ)) / 2h for every i; x is restored afterwards.</summary>
    public static double[] Gradient(double[] x, Func<double> loss, double h = 1e-6)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + h; double plus = loss();
            x[i] = keep - h; double minus = loss();
            x[i] = keep;
            g[i] = (plus - minus) / (2 * h);
        }
        return g;
    }

    /// <summary>Σ wᵢ·yᵢ: a scalar whose gradient with respect to y is w, so dOut = w drives the backward pass.</summary>
    public static double Dot(double[] y, double[] w)
    {
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += y[i] * w[i];
        return s;
    }

    public static double[] Random(Random rng, int count, double scale = 1.0)
    {
        var a = new double[count];
        for (int i = 0; i < a.Length; i++) a[i] = (rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>Asserts ‖analytic − numeric‖/‖numeric‖ within a tolerance suited to float64 central differences.</summary>
    public static void AssertClose(double[] analytic, double[] numeric, string what, double tolerance = 1e-6)
    {
        double error = Relative.Error(analytic, numeric);
        Assert.True(error <= tolerance, $"{what}: relative error {error:E2} between backward and finite differences");
    }
}
