namespace Engine.Precision;

/// <summary>
/// bfloat16 as raw bits: the top 16 bits of an IEEE float32 (same 8-bit exponent, 7-bit mantissa), so every float's
/// range survives and only precision is lost. .NET has no bfloat16 type; this is the engine's one definition of
/// the rounding, which the CUDA kernels' <c>__float2bfloat16_rn</c> must (and the GPU tests check they do) agree with.
/// </summary>
public static class Bf16
{
    /// <summary>The quiet NaN every NaN becomes (PyTorch's choice; CUDA's cvt gives 0x7FFF, also a quiet NaN).</summary>
    public const ushort QuietNaN = 0x7FC0;
    public const ushort PositiveInfinity = 0x7F80;
    public const ushort NegativeInfinity = 0xFF80;

    /// <summary>
    /// Round to nearest, ties to even: add 0x7FFF plus the lowest kept bit, then truncate. A carry out of the
    /// mantissa bumps the exponent, which is exactly right, including finite values past bf16's largest becoming ±inf.
    /// NaN must be caught first: the add could carry a NaN's payload into the sign or turn it into inf.
    /// </summary>
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return QuietNaN;
        uint lowestKept = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFFu + lowestKept) >> 16);
    }

    /// <summary>Exact: every bf16 is a float32 with 16 zero bits below.</summary>
    public static float ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
