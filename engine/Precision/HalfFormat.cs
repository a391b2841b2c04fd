namespace Engine.Precision;

/// <summary>
/// The two 16-bit float formats of mixed precision. Their values travel through backends as raw bits in
/// <c>Slice&lt;ushort&gt;</c> (the CUDA kernels see <c>__nv_bfloat16</c> / <c>__half</c>, the same 2 bytes): one
/// storage type for both, so the format is a parameter of the op rather than a second copy of every signature.
/// </summary>
public enum HalfFormat { Bf16, Fp16 }

public static class HalfFormats
{
    /// <summary>The format a mixed-precision mode stores its weights and activations in; fp32 has none.</summary>
    public static HalfFormat Of(PrecisionMode mode) => mode switch
    {
        PrecisionMode.Bf16 => HalfFormat.Bf16,
        PrecisionMode.Fp16 => HalfFormat.Fp16,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), $"{PrecisionBytes.Name(mode)} keeps no 16-bit copy"),
    };

    public static ushort FromFloat(HalfFormat format, float value) =>
        format == HalfFormat.Bf16 ? Bf16.FromFloat(value) : Fp16.FromFloat(value);

    public static float ToFloat(HalfFormat format, ushort bits) =>
        format == HalfFormat.Bf16 ? Bf16.ToFloat(bits) : Fp16.ToFloat(bits);
}
