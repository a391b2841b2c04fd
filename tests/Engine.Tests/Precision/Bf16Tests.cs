using Engine.Precision;

namespace Engine.Tests.Precision;

public class Bf16Tests
{
    static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    [Fact]
    public void Random_floats_of_every_exponent_round_as_the_reference_does()
    {
        var rng = new Random(11);
        foreach (float x in HalfReference.RandomFloats(rng, 200_000))
            Assert.True(HalfReference.Bf16(x) == Bf16.FromFloat(x), $"{x:R} (0x{BitConverter.SingleToUInt32Bits(x):X8}): 0x{Bf16.FromFloat(x):X4}, reference 0x{HalfReference.Bf16(x):X4}");
    }

    [Theory]
    [InlineData(0x3F808000u, 0x3F80)] // 1 + 2^-8: halfway between 1 and its successor; 1's last bit is even, so down
    [InlineData(0x3F818000u, 0x3F82)] // halfway above an odd last bit: up to the even neighbour
    [InlineData(0x3F807FFFu, 0x3F80)] // just under halfway
    [InlineData(0x3F808001u, 0x3F81)] // just over halfway
    [InlineData(0xBF818000u, 0xBF82)] // the same for negatives (rounding is on the magnitude)
    [InlineData(0x00008000u, 0x0000)] // subnormal tie to even (0)
    [InlineData(0x00018000u, 0x0002)] // subnormal tie up to even
    [InlineData(0x0000C000u, 0x0001)] // subnormal above halfway
    [InlineData(0x00000001u, 0x0000)] // the smallest float subnormal vanishes
    [InlineData(0x007FFFFFu, 0x0080)] // the largest subnormal rounds up into the normals
    [InlineData(0x80000000u, 0x8000)] // −0 keeps its sign
    [InlineData(0x7F7FFFFFu, 0x7F80)] // float.MaxValue is past bf16's largest + half an ulp: +inf
    [InlineData(0x7F7F7FFFu, 0x7F7F)] // stays finite just under halfway
    [InlineData(0x7F800000u, 0x7F80)] // +inf
    [InlineData(0xFF800000u, 0xFF80)] // −inf
    public void Edge_cases(uint floatBits, int expected)
    {
        Assert.Equal((ushort)expected, Bf16.FromFloat(F(floatBits)));
        Assert.Equal((ushort)expected, HalfReference.Bf16(F(floatBits))); // the reference agrees with the table too
    }

    [Theory]
    [InlineData(0x7FC00000u)] // quiet NaN
    [InlineData(0xFFC00000u)] // negative quiet NaN (float.NaN in .NET)
    [InlineData(0x7F800001u)] // signalling NaN with the lowest payload: a naive rounding add would make it +inf
    [InlineData(0x7FFFFFFFu)] // all-ones payload: a naive add would carry into the sign
    [InlineData(0xFF800001u)]
    public void NaN_stays_a_quiet_NaN(uint floatBits)
    {
        ushort bits = Bf16.FromFloat(F(floatBits));
        Assert.True(float.IsNaN(Bf16.ToFloat(bits)), $"0x{floatBits:X8} became 0x{bits:X4}");
        Assert.Equal(Bf16.QuietNaN, bits);
    }

    [Fact]
    public void Every_bf16_value_converts_to_float_exactly_and_back()
    {
        for (int b = 0; b <= 0xFFFF; b++)
        {
            float f = Bf16.ToFloat((ushort)b);
            Assert.Equal(BitConverter.SingleToUInt32Bits(f), (uint)b << 16);
            if (!float.IsNaN(f)) Assert.Equal((ushort)b, Bf16.FromFloat(f));
        }
    }

    /// <summary>7 stored mantissa bits: rounding to nearest moves a normal value by at most half an ulp, 2^-8 of it.</summary>
    [Fact]
    public void Every_normal_float_round_trips_within_2_to_the_minus_8_relative()
    {
        var rng = new Random(12);
        foreach (float x in HalfReference.RandomFloats(rng, 200_000))
        {
            if (float.IsInfinity(x) || Math.Abs(x) < 1.1754944e-38f || Math.Abs(x) > 3.3895e38f) continue; // subnormals, overflow
            double back = Bf16.ToFloat(Bf16.FromFloat(x));
            Assert.True(Math.Abs(back - x) <= Math.Pow(2, -8) * Math.Abs(x), $"{x:R} → {back:R}");
        }
    }
}
