namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// The error function in float64 (.NET has none). For |x| ≤ 6 it sums erf(x) = (2/√π)·e^(−x²)·Σ 2ⁿx^(2n+1)/(2n+1)!!,
/// whose terms are all positive, so nothing cancels and the sum is good to a few ulps; beyond 6, erf = ±1 in float64
/// (erfc(6) ≈ 2e-17). Slow (up to ~150 terms) but exact enough to be the reference the float32 kernel is held to.
/// </summary>
public static class Erf
{
    const double TwoOverSqrtPi = 1.1283791670955126;

    public static double Of(double x)
    {
        double a = Math.Abs(x);
        if (a > 6) return Math.Sign(x);
        double term = a, sum = a, x2 = a * a;
        for (int n = 1; term > sum * 1e-17; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
        }
        return Math.Sign(x) * TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }
}
