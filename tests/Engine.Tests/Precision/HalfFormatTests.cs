using Engine.Precision;

namespace Engine.Tests.Precision;

public class HalfFormatTests
{
    [Fact]
    public void Each_mixed_mode_names_its_16_bit_format_and_fp32_has_none()
    {
        Assert.Equal(HalfFormat.Bf16, HalfFormats.Of(PrecisionMode.Bf16));
        Assert.Equal(HalfFormat.Fp16, HalfFormats.Of(PrecisionMode.Fp16));
        Assert.Throws<ArgumentOutOfRangeException>(() => HalfFormats.Of(PrecisionMode.Fp32));
    }

    [Fact]
    public void The_format_picks_the_rounding()
    {
        // 1 + 2^-9 is below halfway to bf16's next value (2^-7 away), so it rounds to 1; fp16 holds it exactly.
        float x = 1 + MathF.Pow(2, -9);
        Assert.Equal(1f, HalfFormats.ToFloat(HalfFormat.Bf16, HalfFormats.FromFloat(HalfFormat.Bf16, x)));
        Assert.Equal(x, HalfFormats.ToFloat(HalfFormat.Fp16, HalfFormats.FromFloat(HalfFormat.Fp16, x)));
    }
}
