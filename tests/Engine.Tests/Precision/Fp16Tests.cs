using Engine.Precision;

namespace Engine.Tests.Precision;

public class Fp16Tests
{
    static float P2(int e) => MathF.Pow(2, e);

    [Fact]
    public void Random_floats_of_every_exponent_round_as_the_reference_does()
    {
        var rng = new Random(21);
        foreach (float x in HalfReference.RandomFloats(rng, 200_000))
            Assert.True(HalfReference.Fp16(x) == Fp16.FromFloat(x), $"{x:R}: 0x{Fp16.FromFloat(x):X4}, reference 0x{HalfReference.Fp16(x):X4}");
    }

    /// <summary>Random bit patterns mostly land outside fp16's range; these stay inside it, where the rounding is.</summary>
    [Fact]
    public void Random_floats_within_fp16s_range_round_as_the_reference_does()
    {
        var rng = new Random(22);
        for (int i = 0; i < 200_000; i++)
        {
            float x = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-30, 17)));
            Assert.True(HalfReference.Fp16(x) == Fp16.FromFloat(x), $"{x:R}: 0x{Fp16.FromFloat(x):X4}, reference 0x{HalfReference.Fp16(x):X4}");
        }
    }

    public static TheoryData<float, int> EdgeCases() => new()
    {
        { 1 + P2(-11), 0x3C00 },          // halfway between 1 and 1 + 2^-10: ties to the even 1
        { 1 + 3 * P2(-11), 0x3C02 },      // halfway above an odd last bit: up
        { -(1 + 3 * P2(-11)), 0xBC02 },
        { 65504f, 0x7BFF },               // the largest finite fp16
        { 65519.996f, 0x7BFF },           // just under halfway to 2^16: still finite
        { 65520f, 0x7C00 },               // halfway: ties to the even "2^16", which is +inf
        { 1e6f, 0x7C00 },                 // beyond the range: +inf
        { -1e6f, 0xFC00 },
        { float.MaxValue, 0x7C00 },
        { float.PositiveInfinity, 0x7C00 },
        { float.NegativeInfinity, 0xFC00 },
        { P2(-24), 0x0001 },              // the smallest subnormal
        { P2(-25), 0x0000 },              // half of it: ties to even 0
        { 3 * P2(-26), 0x0001 },          // above halfway
        { 1.5f * P2(-24), 0x0002 },       // halfway between subnormals 1 and 2: even 2
        { 1023 * P2(-24), 0x03FF },       // the largest subnormal
        { P2(-14), 0x0400 },              // the smallest normal
        { -0f, 0x8000 },
    };

    [Theory]
    [MemberData(nameof(EdgeCases))]
    public void Edge_cases(float x, int expected)
    {
        Assert.Equal((ushort)expected, Fp16.FromFloat(x));
        Assert.Equal((ushort)expected, HalfReference.Fp16(x));
    }

    [Fact]
    public void NaN_stays_NaN()
    {
        foreach (uint bits in new uint[] { 0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF })
            Assert.True(float.IsNaN(Fp16.ToFloat(Fp16.FromFloat(BitConverter.UInt32BitsToSingle(bits)))), $"0x{bits:X8}");
    }

    [Fact]
    public void Every_fp16_value_converts_to_float_exactly_and_back()
    {
        for (int b = 0; b <= 0xFFFF; b++)
        {
            float f = Fp16.ToFloat((ushort)b);
            if (float.IsNaN(f)) { Assert.True((b & 0x7C00) == 0x7C00 && (b & 0x3FF) != 0); continue; }
            if ((b & 0x7FFF) < 0x7C00) Assert.Equal(Math.CopySign(HalfReferenceMagnitude(b & 0x7FFF), (b & 0x8000) != 0 ? -1 : 1), (double)f);
            Assert.Equal((ushort)b, Fp16.FromFloat(f));
        }
    }

    static double HalfReferenceMagnitude(int bits) =>
        (bits >> 10) == 0 ? (bits & 0x3FF) * Math.Pow(2, -24) : (1024 + (bits & 0x3FF)) * Math.Pow(2, (bits >> 10) - 25);
}
