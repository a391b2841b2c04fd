using Engine.Precision;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The casts (ops/precision/precision.cu) and loss-scale unscaling against their CPU twins on fresh random inputs of odd
/// sizes, outputs poisoned before the call. Both sides round once, to nearest even, or multiply once by the same
/// float, so bits must match; a NaN only has to stay a NaN (CUDA writes its canonical NaN) and must not be the poison,
/// so an unwritten element still fails.
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class PrecisionGpuTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16, 37)]
    [InlineData(HalfFormat.Bf16, 100_003)]
    [InlineData(HalfFormat.Fp16, 37)]
    [InlineData(HalfFormat.Fp16, 100_003)]
    public void Casts_match_the_CPU_bit_for_bit(HalfFormat format, int n)
    {
        using var p = Open(n + (int)format);
        var x = p.Upload(p.CastInputs(n));
        var half = p.Upload(Enumerable.Repeat(HalfPoison, n).ToArray());
        p.Cpu.CastToHalf(half.C, x.C, format);
        p.Gpu.CastToHalf(half.G, x.G, format);
        var (expected, actual) = p.Download(half);
        for (int i = 0; i < n; i++)
        {
            bool expectNaN = float.IsNaN(HalfFormats.ToFloat(format, expected[i]));
            bool ok = expectNaN ? actual[i] != HalfPoison && float.IsNaN(HalfFormats.ToFloat(format, actual[i])) : actual[i] == expected[i];
            if (!ok) Assert.Fail($"{format} cast [{i}] of 0x{BitConverter.SingleToUInt32Bits(p.Download(x).Cpu[i]):X8}: GPU 0x{actual[i]:X4}, CPU 0x{expected[i]:X4}");
        }

        // Back to fp32 from fresh random 16-bit patterns (every value of the format, NaNs included).
        var bits = p.Upload(Enumerable.Range(0, n).Select(_ => (ushort)p.Rng.Next(0x10000)).ToArray());
        var floats = p.Upload(Enumerable.Repeat(BitConverter.UInt32BitsToSingle(FloatPoison), n).ToArray());
        p.Cpu.CastFromHalf(floats.C, bits.C, format);
        p.Gpu.CastFromHalf(floats.G, bits.G, format);
        var (cpu, gpu) = p.Download(floats);
        for (int i = 0; i < n; i++)
        {
            uint c = BitConverter.SingleToUInt32Bits(cpu[i]), g = BitConverter.SingleToUInt32Bits(gpu[i]);
            bool ok = float.IsNaN(cpu[i]) ? g != FloatPoison && float.IsNaN(gpu[i]) : g == c;
            if (!ok) Assert.Fail($"{format} → fp32 [{i}]: GPU 0x{g:X8}, CPU 0x{c:X8}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100_003)]
    public void Unscale_matches_the_CPU_bit_for_bit_and_flags_inf_and_NaN(int n)
    {
        using var p = Open(n + 5);
        var values = p.RandomArray(n, 65536);
        var g = p.Upload(values);
        Assert.True(p.Cpu.UnscaleAndCheckFinite(g.C, 65536f));
        Assert.True(p.Gpu.UnscaleAndCheckFinite(g.G, 65536f));
        var (cpu, gpu) = p.Download(g);
        for (int i = 0; i < n; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(cpu[i]), BitConverter.SingleToUInt32Bits(gpu[i]));

        foreach (float bad in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN })
        {
            var withBad = (float[])values.Clone();
            withBad[p.Rng.Next(n)] = bad;
            var b = p.Upload(withBad);
            Assert.False(p.Cpu.UnscaleAndCheckFinite(b.C, 1024f));
            Assert.False(p.Gpu.UnscaleAndCheckFinite(b.G, 1024f));
            Assert.True(p.Gpu.UnscaleAndCheckFinite(g.G, 1f)); // the flag is cleared for the next call
        }
    }
}
