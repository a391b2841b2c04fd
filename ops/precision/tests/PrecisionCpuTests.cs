using Engine.Backends.Cpu;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tests.Precision;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The CPU twins of the casts and of loss-scale unscaling against the element helpers and the float products they must
/// agree with bit for bit, on <see cref="Engine.Tests.Support.BackendArrays.N"/> elements (several of ParallelRows' chunks).
/// </summary>
public class PrecisionCpuTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Casts_match_the_element_helpers_on_random_and_special_values(HalfFormat format)
    {
        using var cpu = new CpuBackend();
        var x = HalfReference.RandomFloats(new Random(31), N); // every exponent: subnormals, overflow, ±inf
        x[5] = float.NaN; x[6] = 65520f; x[7] = -1e-45f;
        var output = Upload(cpu, Enumerable.Repeat((ushort)0xFFFF, N).ToArray());
        cpu.CastToHalf(output, Upload(cpu, x), format);
        var bits = Download(cpu, output);
        for (int i = 0; i < N; i++)
            Assert.True(HalfFormats.FromFloat(format, x[i]) == bits[i], $"[{i}] {x[i]:R}: 0x{bits[i]:X4}");

        var back = Upload(cpu, Enumerable.Repeat(float.NaN, N).ToArray());
        cpu.CastFromHalf(back, output, format);
        var floats = Download(cpu, back);
        for (int i = 0; i < N; i++)
            Assert.Equal(BitConverter.SingleToUInt32Bits(HalfFormats.ToFloat(format, bits[i])), BitConverter.SingleToUInt32Bits(floats[i]));
    }

    /// <summary>The on-this-thread casts (for callers inside a parallel task) give the parallel casts' bits.</summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public unsafe void Casts_on_the_calling_thread_give_the_same_bits(HalfFormat format)
    {
        var x = HalfReference.RandomFloats(new Random(53), N);
        x[3] = float.NaN;
        ushort[] split = new ushort[N], here = new ushort[N];
        float[] wideSplit = new float[N], wideHere = new float[N];
        fixed (float* input = x, ws = wideSplit, wh = wideHere)
        fixed (ushort* s = split, h = here)
        {
            HalfCast.ToHalf(s, input, N, format);
            HalfCast.ToHalfOnThisThread(h, input, N, format);
            HalfCast.FromHalf(ws, s, N, format);
            HalfCast.FromHalfOnThisThread(wh, h, N, format);
        }
        Assert.Equal(split, here);
        Assert.Equal(wideSplit.Select(BitConverter.SingleToUInt32Bits), wideHere.Select(BitConverter.SingleToUInt32Bits));
    }

    public static TheoryData<HalfFormat, SimdLevel> FormatsAndWidths() => new()
    {
        { HalfFormat.Bf16, SimdLevel.Vector512 }, { HalfFormat.Bf16, SimdLevel.Vector256 }, { HalfFormat.Bf16, SimdLevel.Scalar },
        { HalfFormat.Fp16, SimdLevel.Vector512 }, { HalfFormat.Fp16, SimdLevel.Vector256 }, { HalfFormat.Fp16, SimdLevel.Scalar },
    };

    [Theory]
    [MemberData(nameof(FormatsAndWidths))]
    public unsafe void Casts_give_the_element_helpers_bits_on_every_vector_width(HalfFormat format, SimdLevel width)
    {
        // Lengths that end inside a vector and inside a chunk; the buffers start off the vector alignment.
        foreach (int n in new[] { 1, 15, 31, 33, N })
        {
            var x = HalfReference.RandomFloats(new Random(41 + n), n);
            var rng = new Random(n);
            for (int i = 7; i < n; i += 5) // exact ties of both formats, normal and fp16-subnormal, and fp16's range
                x[i] = (i % 3) switch
                {
                    0 => BitConverter.UInt32BitsToSingle(((uint)rng.Next() & 0xFFFF0000u) | 0x8000u),
                    1 => (float)((1024 + rng.Next(1024) + 0.5) * Math.Pow(2, rng.Next(-14, 16) - 10)) * (rng.Next(2) * 2 - 1),
                    _ => (float)((rng.Next(1024) + 0.5) * Math.Pow(2, -24)),
                };
            if (n > 40)
            {
                float[] specials = [float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001), float.PositiveInfinity, float.NegativeInfinity,
                                    -0f, 65520f, -65504f, 65519.99f, float.MaxValue, 1e-45f, MathF.Pow(2, -25), 1.5f * MathF.Pow(2, -24), MathF.Pow(2, -14)];
                for (int k = 0; k < specials.Length; k++) x[3 * k + 1] = specials[k];
            }
            var bits = new ushort[n + 1];
            fixed (float* input = x)
            fixed (ushort* output = bits)
                HalfCast.ToHalf(output + 1, input, n, format, width);
            for (int i = 0; i < n; i++)
                Assert.True(HalfFormats.FromFloat(format, x[i]) == bits[i + 1], $"{format} width {width}, n {n}, [{i}] {x[i]:R}: 0x{bits[i + 1]:X4}");
        }
        // Widening: every 16-bit pattern (NaNs, subnormals, infinities), starting off the alignment.
        var all = Enumerable.Range(0, 65537).Select(i => (ushort)(i * 40503)).ToArray();
        var wide = new float[all.Length];
        fixed (ushort* input = all)
        fixed (float* output = wide)
            HalfCast.FromHalf(output + 1, input + 1, all.Length - 1, format, width);
        for (int i = 1; i < all.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(HalfFormats.ToFloat(format, all[i])) == BitConverter.SingleToUInt32Bits(wide[i]),
                $"{format} width {width}: 0x{all[i]:X4} widened to {wide[i]:R}");
    }

    [Fact]
    public void Casts_refuse_slices_of_different_lengths()
    {
        using var cpu = new CpuBackend();
        var e = Assert.Throws<ArgumentException>(() => cpu.CastToHalf(cpu.Allocate<ushort>(3, "t"), cpu.Allocate<float>(4, "t"), HalfFormat.Bf16));
        Assert.Contains("cast to half", e.Message);
    }

    [Fact]
    public void Unscale_multiplies_by_the_reciprocal_and_reports_finite_gradients()
    {
        using var cpu = new CpuBackend();
        var g = RandomArray(N, 51, 65536);
        var slice = Upload(cpu, g);
        Assert.True(cpu.UnscaleAndCheckFinite(slice, 65536f));
        float inverse = 1f / 65536f;
        AssertSameBits(g.Select(x => x * inverse).ToArray(), Download(cpu, slice), "unscaled gradients");

        var odd = Upload(cpu, g); // a scale that is not a power of two: still the float reciprocal's product
        Assert.True(cpu.UnscaleAndCheckFinite(odd, 3f));
        AssertSameBits(g.Select(x => x * (1f / 3f)).ToArray(), Download(cpu, odd), "gradients unscaled by 3");
    }

    public static TheoryData<int, float> NonFinite() => new()
    {
        { 0, float.PositiveInfinity }, { N - 1, float.NegativeInfinity }, { 2 * 16384 + 5, float.NaN }, { 16383, -float.NaN },
    };

    [Theory]
    [MemberData(nameof(NonFinite))]
    public void Unscale_reports_any_inf_or_NaN(int position, float bad)
    {
        using var cpu = new CpuBackend();
        var g = RandomArray(N, 52);
        g[position] = bad;
        Assert.False(cpu.UnscaleAndCheckFinite(Upload(cpu, g), 1024f));
    }

    [Fact]
    public void Unscale_checks_the_results_so_a_scale_below_one_that_overflows_counts()
    {
        using var cpu = new CpuBackend();
        Assert.False(cpu.UnscaleAndCheckFinite(Upload(cpu, new[] { 1f, float.MaxValue, 2f }), 0.5f));
        Assert.True(cpu.UnscaleAndCheckFinite(Upload(cpu, new[] { 1f, float.MaxValue / 4, 2f }), 0.5f));
        Assert.True(cpu.UnscaleAndCheckFinite(cpu.Allocate<float>(0, "empty"), 2f)); // no gradients: nothing to skip
    }
}
