namespace Engine.Precision;

/// <summary>
/// Rounds fp32 values to what a 16-bit format can hold, keeping them as fp32: the CPU's way to run a mixed-precision
/// model with the numbers its 16-bit storage would have. The rounding is the formats' own (<see cref="Bf16"/>,
/// <see cref="Fp16"/>: to nearest, ties to even; fp16 overflows to ±inf).
/// </summary>
public static class StorageRounding
{
    public static float ToBf16(float x) => Bf16.ToFloat(Bf16.FromFloat(x));
    public static float ToFp16(float x) => Fp16.ToFloat(Fp16.FromFloat(x));

    public static void Round(Span<float> values, HalfFormat format)
    {
        switch (format)
        {
            case HalfFormat.Bf16:
                for (int i = 0; i < values.Length; i++) values[i] = ToBf16(values[i]);
                break;
            case HalfFormat.Fp16:
                for (int i = 0; i < values.Length; i++) values[i] = ToFp16(values[i]);
                break;
        }
    }
}
