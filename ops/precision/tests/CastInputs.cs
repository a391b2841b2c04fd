using Engine.Tests.Precision;

namespace Engine.Tests.Backends.Cuda;

/// <summary>Inputs for the casts' GPU tests, drawn from the pair's generator.</summary>
static class CastInputValues
{
    /// <summary>Every kind of value a cast must handle, shuffled: all exponents, fp16's range, ties, specials.</summary>
    public static float[] CastInputs(this CpuGpuPair p, int n)
    {
        var x = HalfReference.RandomFloats(p.Rng, n);
        for (int i = 0; i < n; i += 3) x[i] = (float)((p.Rng.NextDouble() * 2 - 1) * Math.Pow(2, p.Rng.Next(-26, 18)));
        for (int i = 1; i < n; i += 7) // exact bf16 ties: a kept bit pattern plus half its last place
            x[i] = BitConverter.UInt32BitsToSingle(((uint)p.Rng.Next() & 0xFFFF0000u) | 0x8000u);
        for (int i = 2; i < n; i += 11) // exact fp16 ties, normal ((1024 + k + ½)·2^(e−10)) and subnormal ((k + ½)·2^-24)
            x[i] = i % 2 == 0 ? (float)((1024 + p.Rng.Next(1024) + 0.5) * Math.Pow(2, p.Rng.Next(-14, 16) - 10))
                              : (float)((p.Rng.Next(1024) + 0.5) * Math.Pow(2, -24));
        float[] specials = [float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001), float.PositiveInfinity, float.NegativeInfinity,
                            0f, -0f, 65520f, -65520f, 65504f, 1e-45f, MathF.Pow(2, -25), 1.5f * MathF.Pow(2, -24), float.MaxValue];
        for (int i = 0; i < specials.Length && i < n; i++) x[p.Rng.Next(n)] = specials[i];
        return x;
    }
}
