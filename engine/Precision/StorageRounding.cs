namespace Engine.Precision;

/// <summary>
/// Rounds fp32 values to what a 16-bit format can hold (round to nearest, ties to even), keeping them as fp32: the
/// CPU's way to run a mixed-precision model with the numbers its 16-bit storage would have.
/// </summary>
public static class StorageRounding
{
    /// <summary>bf16 keeps fp32's 8 exponent bits and 7 of its 23 mantissa bits: the same range, 2^-8 relative step.</summary>
    public static float ToBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7FFF_FFFFu) > 0x7F80_0000u) return BitConverter.UInt32BitsToSingle((bits | 0x0040_0000u) & 0xFFFF_0000u); // NaN stays a (quiet) NaN
        bits += 0x7FFFu + ((bits >> 16) & 1u); // ties to even; carries into the exponent (up to ±inf) as a real cast does
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF_0000u);
    }

    /// <summary>fp16: 5 exponent bits (largest finite 65504, beyond it ±inf), 10 mantissa bits, subnormals below 2^-14.</summary>
    public static float ToFp16(float x) => (float)(Half)x;

    public static void Round(Span<float> values, PrecisionMode precision)
    {
        switch (precision)
        {
            case PrecisionMode.Bf16:
                for (int i = 0; i < values.Length; i++) values[i] = ToBf16(values[i]);
                break;
            case PrecisionMode.Fp16:
                for (int i = 0; i < values.Length; i++) values[i] = ToFp16(values[i]);
                break;
        }
    }
}
