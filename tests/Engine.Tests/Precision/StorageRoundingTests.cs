using Engine.Precision;

namespace Engine.Tests.Precision;

public class StorageRoundingTests
{
    static float Bits(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    [Theory]
    [InlineData(0x3F80_0000u, 0x3F80_0000u)] // 1 is exact
    [InlineData(0x3F80_8000u, 0x3F80_0000u)] // halfway, even below: down
    [InlineData(0x3F81_8000u, 0x3F82_0000u)] // halfway, odd below: up to even
    [InlineData(0x3F80_8001u, 0x3F81_0000u)] // above halfway: up
    [InlineData(0x3F80_7FFFu, 0x3F80_0000u)] // below halfway: down
    [InlineData(0x7F7F_FFFFu, 0x7F80_0000u)] // fp32's largest rounds past bf16's largest: +inf, as a cast does
    [InlineData(0x7F80_0000u, 0x7F80_0000u)] // +inf stays
    [InlineData(0xFF80_0000u, 0xFF80_0000u)] // -inf stays
    [InlineData(0x0000_0001u, 0x0000_0000u)] // the smallest subnormal rounds to 0
    [InlineData(0x8000_8001u, 0x8001_0000u)] // sign kept
    public void Bf16_rounds_to_nearest_ties_to_even(uint input, uint expected) =>
        Assert.Equal(expected, BitConverter.SingleToUInt32Bits(StorageRounding.ToBf16(Bits(input))));

    [Fact]
    public void Bf16_keeps_NaN_a_NaN_even_when_only_low_mantissa_bits_are_set()
    {
        Assert.True(float.IsNaN(StorageRounding.ToBf16(Bits(0x7F80_0001u))));
        Assert.True(float.IsNaN(StorageRounding.ToBf16(float.NaN)));
    }

    [Fact]
    public void Bf16_is_within_half_a_step_of_every_value()
    {
        var rng = new Random(5);
        for (int i = 0; i < 100_000; i++)
        {
            float x = (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-30, 30)));
            float r = StorageRounding.ToBf16(x);
            Assert.True(Math.Abs(r - x) <= Math.Abs(x) * Math.Pow(2, -8), $"{x:R} → {r:R}");
            Assert.Equal(0u, BitConverter.SingleToUInt32Bits(r) & 0xFFFF); // representable in 16 bits
        }
    }

    [Theory]
    [InlineData(65504f, 65504f)]                        // fp16's largest finite value
    [InlineData(65519f, 65504f)]                        // below the halfway point to 65536: down
    [InlineData(65520f, float.PositiveInfinity)]        // halfway: ties to even, which is beyond the range
    [InlineData(-1e6f, float.NegativeInfinity)]
    [InlineData(1.0009765625f, 1.0009765625f)]          // 1 + 2^-10 is exact
    [InlineData(1.00048828125f, 1f)]                    // 1 + 2^-11: halfway, down to even
    [InlineData(5.9604645e-8f, 5.9604645e-8f)]          // 2^-24, the smallest subnormal
    [InlineData(2.9802322e-8f, 0f)]                     // 2^-25: halfway to 0, ties to even (0)
    public void Fp16_rounds_like_a_cast_and_overflows_to_infinity(float input, float expected) =>
        Assert.Equal(expected, StorageRounding.ToFp16(input));
}
