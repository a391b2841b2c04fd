namespace Engine.Precision;

/// <summary>
/// IEEE binary16 as raw bits, through System.Half: its float conversion rounds to nearest even (subnormals
/// included; finite values from 65520 up become ±inf), as CUDA's <c>__float2half_rn</c> does, so the CPU twin and
/// the kernels give the same bits for every non-NaN value. fp16 keeps 10 mantissa bits but only 5 exponent bits,
/// hence loss scaling.
/// </summary>
public static class Fp16
{
    /// <summary>The largest finite fp16, 65504; anything that rounds above it is ±inf.</summary>
    public const float MaxValue = 65504f;

    public static ushort FromFloat(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>Exact: every fp16, subnormals too, is a float32.</summary>
    public static float ToFloat(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);
}
