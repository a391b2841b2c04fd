using Engine.Backends.Cpu;
using Engine.Backends.Profiling;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Precision;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The CPU twins of the mixed-precision ops (casts, AdamW with a 16-bit copy, loss-scale unscaling) against the
/// element helpers and the fp32 ops they must agree with bit for bit. Sizes span several of ParallelRows' chunks
/// (16384) and end mid-chunk, so a chunk boundary mistake shows.
/// </summary>
public class MixedPrecisionOpTests
{
    const int N = 3 * 16384 + 77;

    static float[] RandomArray(int n, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    static Slice<T> Upload<T>(IBackend backend, T[] data) where T : unmanaged
    {
        var s = backend.Allocate<T>(data.Length, "test");
        backend.CopyIn<T>(data, s);
        return s;
    }

    static T[] Download<T>(IBackend backend, Slice<T> s) where T : unmanaged
    {
        var data = new T[s.Length];
        backend.CopyOut(s, data);
        return data;
    }

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

    [Fact]
    public void Casts_refuse_slices_of_different_lengths()
    {
        using var cpu = new CpuBackend();
        var e = Assert.Throws<ArgumentException>(() => cpu.CastToHalf(cpu.Allocate<ushort>(3, "t"), cpu.Allocate<float>(4, "t"), HalfFormat.Bf16));
        Assert.Contains("cast to half", e.Message);
    }

    /// <summary>Several steps, so the moments carry history and the bias corrections change.</summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void AdamW_mixed_gives_the_fp32_steps_master_weights_bit_for_bit_and_their_cast(HalfFormat format)
    {
        using var cpu = new CpuBackend();
        var p0 = RandomArray(N, 41);
        var fp32 = (P: Upload(cpu, p0), M: cpu.Allocate<float>(N, "m"), V: cpu.Allocate<float>(N, "v"));
        var mixed = (P: Upload(cpu, p0), M: cpu.Allocate<float>(N, "m"), V: cpu.Allocate<float>(N, "v"));
        var copy = Upload(cpu, Enumerable.Repeat((ushort)0xFFFF, N).ToArray());
        for (int step = 1; step <= 3; step++)
        {
            var g = Upload(cpu, RandomArray(N, 100 + step, 0.01));
            cpu.AdamW(fp32.P, g, fp32.M, fp32.V, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
            cpu.AdamWMixed(mixed.P, copy, format, g, mixed.M, mixed.V, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
        }
        AssertSameBits(Download(cpu, fp32.P), Download(cpu, mixed.P), "master weights");
        AssertSameBits(Download(cpu, fp32.M), Download(cpu, mixed.M), "first moment");
        AssertSameBits(Download(cpu, fp32.V), Download(cpu, mixed.V), "second moment");
        var master = Download(cpu, mixed.P);
        var half = Download(cpu, copy);
        for (int i = 0; i < N; i++)
            Assert.True(HalfFormats.FromFloat(format, master[i]) == half[i], $"copy[{i}] 0x{half[i]:X4} is not the cast of {master[i]:R}");
    }

    static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToUInt32Bits(expected[i]) != BitConverter.SingleToUInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R}");
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

    /// <summary>--profile wraps the backend: the new ops must reach the inner one and be timed under their names.</summary>
    [Fact]
    public void The_profiling_backend_forwards_and_times_the_mixed_precision_ops()
    {
        using var profiled = new ProfilingBackend(new CpuBackend());
        var x = Upload(profiled, new[] { 1f, 2.5f, -3f });
        var half = profiled.Allocate<ushort>(3, "t");
        profiled.CastToHalf(half, x, HalfFormat.Bf16);
        var back = profiled.Allocate<float>(3, "t");
        profiled.CastFromHalf(back, half, HalfFormat.Bf16);
        Assert.Equal(new[] { 1f, 2.5f, -3f }, Download(profiled, back));
        var m = profiled.Allocate<float>(3, "m");
        var v = profiled.Allocate<float>(3, "v");
        profiled.AdamWMixed(x, half, HalfFormat.Fp16, back, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        Assert.Equal(Fp16.FromFloat(Download(profiled, x)[1]), Download(profiled, half)[1]);
        Assert.False(profiled.UnscaleAndCheckFinite(Upload(profiled, new[] { float.NaN }), 2f));
        var ops = profiled.Times.Sorted().Select(t => t.Op).ToHashSet();
        foreach (var op in new[] { "cast to half", "cast from half", "adamw mixed", "unscale gradients" }) Assert.Contains(op, ops);
    }
}
