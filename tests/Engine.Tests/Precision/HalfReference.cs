namespace Engine.Tests.Precision;

/// <summary>
/// Rounding references built from the definition, not from the engine's bit tricks: take the two 16-bit values
/// that bracket |x|, pick the nearer (distances in float64, exact here), on a tie the one whose last bit is 0. The
/// value above the largest finite one is the next power of two, which stands for ±inf (IEEE's overflow rule).
/// </summary>
static class HalfReference
{
    /// <summary>The magnitude of the non-negative bf16 with these 15 bits; 0x7F80 gives 2^128 (inf's place).</summary>
    static double Bf16Magnitude(int bits) => bits == 0x7F80 ? Math.Pow(2, 128) : BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>fp16 magnitudes from the format's definition; 0x7C00 gives 2^16 (inf's place).</summary>
    static double Fp16Magnitude(int bits)
    {
        int exponent = bits >> 10, mantissa = bits & 0x3FF;
        return exponent == 0 ? mantissa * Math.Pow(2, -24) : (1024 + mantissa) * Math.Pow(2, exponent - 25);
    }

    public static ushort Bf16(float x) => Round(x, Bf16Magnitude, 0x7F80);
    public static ushort Fp16(float x) => Round(x, Fp16Magnitude, 0x7C00);

    /// <summary>Rounds a non-NaN float; magnitudes grow with the bits, so a binary search finds the bracket.</summary>
    static ushort Round(float x, Func<int, double> magnitude, int infinityBits)
    {
        if (float.IsNaN(x)) throw new ArgumentException("the reference rounds numbers; check NaN separately");
        int sign = x < 0 || (x == 0 && float.IsNegative(x)) ? 0x8000 : 0;
        double a = Math.Abs((double)x);
        if (double.IsInfinity(a)) return (ushort)(sign | infinityBits);
        int lo = 0, hi = infinityBits; // invariant: magnitude(lo) ≤ a < magnitude(hi), or a is beyond inf's place
        if (a >= magnitude(hi)) return (ushort)(sign | infinityBits);
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (magnitude(mid) <= a) lo = mid; else hi = mid;
        }
        double below = a - magnitude(lo), above = magnitude(hi) - a;
        int chosen = below < above ? lo : above < below ? hi : (lo % 2 == 0 ? lo : hi);
        return (ushort)(sign | chosen);
    }

    /// <summary>Floats from uniformly random bit patterns (every exponent equally likely), NaN left out.</summary>
    public static float[] RandomFloats(Random rng, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            float v;
            do v = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)); while (float.IsNaN(v));
            values[i] = v;
        }
        return values;
    }
}
