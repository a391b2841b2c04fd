using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 exp and erfc for the CPU kernels, one algorithm written three times (Vector512, Vector256, scalar) so
/// an element gets the same bits whichever path or tail it falls in. Plain multiplies and adds (no FMA), so the
/// results do not depend on the CPU either.
/// <para><b>Exp</b>: x = n·ln2 + r with n = round(x/ln2) and |r| ≤ ln2/2 (ln2 split in two so n·ln2 is exact),
/// e^r by its Taylor series to r⁷/7! (truncation below 6e-9 relative), times 2ⁿ built in the exponent bits.
/// Inputs are clamped to [−87.34, 88]: below, the result is 0 (e^x is a float32 subnormal there, under 1.2e-38);
/// above 88, e^88. Max relative error against float64 exp over [−87, 88]: 1.5e-7 (≈ 1.3 ulp), asserted by
/// VectorMathTests over a dense sweep.</para>
/// <para><b>Erfc</b> of z ≥ 0: t·exp(−z² + P(t)) with t = 1/(1 + z/2) and P the degree-9 Chebyshev fit of
/// Numerical Recipes (§6.2, "erfcc"), whose own fractional error is below 1.2e-7. Working from erfc keeps Φ's left
/// tail accurate to a relative error instead of losing it to 1 − erf cancellation. Measured against the float64
/// reference (VectorMathTests, dense sweep): relative error of erfc ≤ 1.7e-6 over z ∈ [0, 4] (it grows with z: the
/// float32 rounding of the exponent −z² + P(t), up to ~17 there, moves exp by that much), erfc &lt; 1.6e-8 beyond;
/// erf = 1 − erfc within 4e-7 absolute.</para>
/// </summary>
public static class VectorMath
{
    const float Log2E = 1.44269504f;
    const float Ln2Hi = 0.693359375f;       // few mantissa bits: n·Ln2Hi is exact for |n| ≤ 128
    const float Ln2Lo = -2.12194440e-4f;    // ln2 − Ln2Hi
    const float ExpLow = -87.3365447f;      // ln(2^−126): the smallest normal result
    const float ExpHigh = 88f;              // keeps n ≤ 127
    const float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(ExpLow)), Vector512.Create(ExpHigh));
        var n = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = xc - n * Vector512.Create(Ln2Hi);
        r -= n * Vector512.Create(Ln2Lo);
        var p = Vector512.Create(C7);
        p = p * r + Vector512.Create(C6);
        p = p * r + Vector512.Create(C5);
        p = p * r + Vector512.Create(C4);
        p = p * r + Vector512.Create(C3);
        p = p * r + Vector512.Create(C2);
        p = p * r + Vector512<float>.One;
        p = p * r + Vector512<float>.One;
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(ExpLow)), Vector512<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(ExpLow)), Vector256.Create(ExpHigh));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = xc - n * Vector256.Create(Ln2Hi);
        r -= n * Vector256.Create(Ln2Lo);
        var p = Vector256.Create(C7);
        p = p * r + Vector256.Create(C6);
        p = p * r + Vector256.Create(C5);
        p = p * r + Vector256.Create(C4);
        p = p * r + Vector256.Create(C3);
        p = p * r + Vector256.Create(C2);
        p = p * r + Vector256<float>.One;
        p = p * r + Vector256<float>.One;
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(ExpLow)), Vector256<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (x < ExpLow) return 0;
        float xc = x > ExpHigh ? ExpHigh : x;
        float n = MathF.Round(xc * Log2E);
        float r = xc - n * Ln2Hi;
        r -= n * Ln2Lo;
        float p = C7;
        p = p * r + C6;
        p = p * r + C5;
        p = p * r + C4;
        p = p * r + C3;
        p = p * r + C2;
        p = p * r + 1;
        p = p * r + 1;
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    // Numerical Recipes' erfcc coefficients, P(t) = A0 + t·(A1 + t·(… + t·A9)).
    const float A0 = -1.26551223f, A1 = 1.00002368f, A2 = 0.37409196f, A3 = 0.09678418f, A4 = -0.18628806f,
        A5 = 0.27886807f, A6 = -1.13520398f, A7 = 1.48851587f, A8 = -0.82215223f, A9 = 0.17087277f;

    /// <summary>erfc(z) for z ≥ 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ErfcOfNonNegative(Vector512<float> z)
    {
        var t = Vector512<float>.One / (Vector512<float>.One + Vector512.Create(0.5f) * z);
        var p = Vector512.Create(A9);
        p = p * t + Vector512.Create(A8);
        p = p * t + Vector512.Create(A7);
        p = p * t + Vector512.Create(A6);
        p = p * t + Vector512.Create(A5);
        p = p * t + Vector512.Create(A4);
        p = p * t + Vector512.Create(A3);
        p = p * t + Vector512.Create(A2);
        p = p * t + Vector512.Create(A1);
        p = p * t + Vector512.Create(A0);
        return t * Exp(p - z * z);
    }

    /// <summary>erfc(z) for z ≥ 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ErfcOfNonNegative(Vector256<float> z)
    {
        var t = Vector256<float>.One / (Vector256<float>.One + Vector256.Create(0.5f) * z);
        var p = Vector256.Create(A9);
        p = p * t + Vector256.Create(A8);
        p = p * t + Vector256.Create(A7);
        p = p * t + Vector256.Create(A6);
        p = p * t + Vector256.Create(A5);
        p = p * t + Vector256.Create(A4);
        p = p * t + Vector256.Create(A3);
        p = p * t + Vector256.Create(A2);
        p = p * t + Vector256.Create(A1);
        p = p * t + Vector256.Create(A0);
        return t * Exp(p - z * z);
    }

    /// <summary>erfc(z) for z ≥ 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ErfcOfNonNegative(float z)
    {
        float t = 1 / (1 + 0.5f * z);
        float p = A9;
        p = p * t + A8;
        p = p * t + A7;
        p = p * t + A6;
        p = p * t + A5;
        p = p * t + A4;
        p = p * t + A3;
        p = p * t + A2;
        p = p * t + A1;
        p = p * t + A0;
        return t * Exp(p - z * z);
    }

    /// <summary>erf(x) = ±(1 − erfc(|x|)), the sign of x.</summary>
    public static float Erf(float x) => MathF.CopySign(1 - ErfcOfNonNegative(MathF.Abs(x)), x);
}
