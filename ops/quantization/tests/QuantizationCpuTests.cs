using Engine.Backends.Cpu;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The CPU quantization ops against a scalar reference written from the definition (scale = max|x| / Qp, level =
/// clamp(round-half-even(x / scale), −Qp, Qp)), and the edge cases: zero rows, exact halves, clamping, NaN, zero
/// scales, odd int4 lengths, bit widths out of 2..8.
/// </summary>
public class QuantizationCpuTests
{
    /// <summary>The reference level: float division, ties to even, clamp; 0 for a zero scale or a NaN.</summary>
    static float RefLevel(float x, float s, int qmax)
    {
        if (s == 0 || float.IsNaN(x)) return 0;
        return Math.Clamp(MathF.Round(x / s, MidpointRounding.ToEven), -qmax, qmax);
    }

    static float RefAbsMax(IEnumerable<float> xs) => xs.Where(v => !float.IsNaN(v)).Select(MathF.Abs).DefaultIfEmpty(0f).Max();

    [Theory]
    [InlineData(8, 127)]
    [InlineData(4, 7)]
    [InlineData(2, 1)]
    public void Per_channel_matches_the_reference_with_a_zero_row_and_a_NaN(int bits, int qmax)
    {
        const int rows = 37, cols = 129;
        using var cpu = new CpuBackend();
        var w = RandomArray(rows * cols, 5, 3);
        for (int c = 0; c < cols; c++) w[4 * cols + c] = 0; // a zero row
        w[7 * cols + 3] = float.NaN;
        var q = Upload(cpu, Enumerable.Repeat((sbyte)99, rows * cols).ToArray());
        var scales = Upload(cpu, Enumerable.Repeat(float.NaN, rows).ToArray());
        cpu.QuantizePerChannel(q, scales, Upload(cpu, w), rows, cols, bits);
        var (qs, ss) = (Download(cpu, q), Download(cpu, scales));
        for (int r = 0; r < rows; r++)
        {
            float s = RefAbsMax(w.Skip(r * cols).Take(cols)) / qmax;
            Assert.Equal(BitConverter.SingleToUInt32Bits(s), BitConverter.SingleToUInt32Bits(ss[r]));
            for (int c = 0; c < cols; c++)
                Assert.True(RefLevel(w[r * cols + c], s, qmax) == qs[r * cols + c], $"[{r},{c}] {w[r * cols + c]:R}: {qs[r * cols + c]}");
        }
        Assert.Equal(0f, ss[4]);
        Assert.All(qs.Skip(4 * cols).Take(cols), v => Assert.Equal(0, v));
        Assert.Equal(0, qs[7 * cols + 3]);
        Assert.Contains((sbyte)qmax, qs.Skip(0).Take(cols).Select(v => (sbyte)Math.Abs(v))); // the row's max reaches Qp
    }

    [Fact]
    public void Exact_halves_round_to_even_and_levels_clamp()
    {
        using var cpu = new CpuBackend();
        // Row 0: step 0.25 (a power of two, so x / s is exact). Row 1: the same values, clamped at 2 bits' Qp = 1 below.
        float[] units = [0.5f, 1.5f, -2.5f, 2.5f, -0.5f, 3.5f, 1000f, -1000f, 0f];
        var x = units.Select(u => u * 0.25f).ToArray();
        var output = Upload(cpu, new float[units.Length]);
        cpu.FakeQuantize(output, Upload(cpu, x), Upload(cpu, new[] { 0.25f }), 8, 1, units.Length);
        float[] expected = [0f, 2f, -2f, 2f, -0f, 4f, 127f, -127f, 0f];
        Assert.Equal(expected.Select(e => e * 0.25f), Download(cpu, output));
        cpu.FakeQuantize(output, Upload(cpu, x), Upload(cpu, new[] { 0.25f }), 2, 1, units.Length);
        Assert.Equal(new[] { 0f, 1f, -1f, 1f, -0f, 1f, 1f, -1f, 0f }.Select(e => e * 0.25f), Download(cpu, output));
    }

    [Fact]
    public void Fake_quantize_passes_NaN_through_and_gives_zero_for_a_zero_scale()
    {
        using var cpu = new CpuBackend();
        var output = Upload(cpu, new float[4]);
        cpu.FakeQuantize(output, Upload(cpu, new[] { float.NaN, 1.3f, 5f, -7f }), Upload(cpu, new[] { 1f, 0f }), 8, 2, 2);
        var o = Download(cpu, output);
        Assert.True(float.IsNaN(o[0]));
        Assert.Equal(1f, o[1]);
        Assert.Equal(new[] { 0f, 0f }, o[2..]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    public void Bit_widths_outside_2_to_8_are_refused_naming_bits(int bits)
    {
        using var cpu = new CpuBackend();
        var f = cpu.Allocate<float>(4, "t");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.FakeQuantize(f, f, cpu.Allocate<float>(1, "t"), bits, 1, 4));
        Assert.Equal("bits", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.QuantizePerChannel(cpu.Allocate<sbyte>(4, "t"), cpu.Allocate<float>(1, "t"), f, 1, 4, bits));
        Assert.Equal("bits", e.ParamName);
    }

    [Fact]
    public void Per_tensor_scale_is_the_max_over_127_ignoring_NaN_and_zero_input_gives_zero()
    {
        using var cpu = new CpuBackend();
        var x = RandomArray(N, 9, 40);
        x[100] = float.NaN;
        x[101] = -63.5f; // the largest magnitude: scale 0.5, level −127
        var q = Upload(cpu, new sbyte[N]);
        var scale = Upload(cpu, new[] { float.NaN });
        cpu.QuantizeInt8PerTensor(q, scale, Upload(cpu, x));
        float s = Download(cpu, scale)[0];
        Assert.Equal(0.5f, s);
        var qs = Download(cpu, q);
        for (int i = 0; i < N; i++) Assert.True(RefLevel(x[i], s, 127) == qs[i], $"[{i}] {x[i]:R}: {qs[i]}");
        Assert.Equal(-127, qs[101]);

        cpu.QuantizeInt8PerTensor(q, scale, Upload(cpu, new float[N]));
        Assert.Equal(0f, Download(cpu, scale)[0]);
        Assert.All(Download(cpu, q), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Dequantize_multiplies_each_row_by_its_scale()
    {
        const int rows = 5, cols = 33;
        using var cpu = new CpuBackend();
        var rng = new Random(3);
        var q = Enumerable.Range(0, rows * cols).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        float[] scales = [0.5f, 0f, 1e-3f, 3.7f, 127f];
        var output = Upload(cpu, Enumerable.Repeat(float.NaN, rows * cols).ToArray());
        cpu.Dequantize(output, Upload(cpu, q), Upload(cpu, scales), rows, cols);
        AssertSameBits(q.Select((v, i) => v * scales[i / cols]).ToArray(), Download(cpu, output), "dequantized");
    }

    [Fact]
    public void Int4_packs_two_nibbles_per_byte_even_element_low()
    {
        using var cpu = new CpuBackend();
        var packed = Upload(cpu, new byte[] { 0xAA, 0xAA });
        cpu.PackInt4(packed, Upload(cpu, new sbyte[] { 1, -1, 7 }), 3);
        Assert.Equal(new byte[] { 0xF1, 0x07 }, Download(cpu, packed));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(N)]
    public void Int4_round_trips_every_value_in_minus_8_to_7(int n)
    {
        using var cpu = new CpuBackend();
        var rng = new Random(n);
        var q = Enumerable.Range(0, n).Select(_ => (sbyte)rng.Next(-8, 8)).ToArray();
        var packed = Upload(cpu, Enumerable.Repeat((byte)0xAA, (n + 1) / 2).ToArray());
        cpu.PackInt4(packed, Upload(cpu, q), n);
        if (n % 2 == 1) Assert.Equal(0, Download(cpu, packed)[^1] >> 4); // the unused high nibble
        var back = Upload(cpu, Enumerable.Repeat((sbyte)99, n).ToArray());
        cpu.UnpackInt4(back, packed, n);
        Assert.Equal(q, Download(cpu, back));
    }

    [Fact]
    public void Int4_refuses_a_packed_length_other_than_half_rounded_up()
    {
        using var cpu = new CpuBackend();
        Assert.Throws<ArgumentException>(() => cpu.PackInt4(cpu.Allocate<byte>(3, "t"), cpu.Allocate<sbyte>(7, "t"), 7));
    }
}

/// <summary>Quantizing with given scales gives the levels FakeQuantize multiplies back: level · scale = fake-quantized.</summary>
public class QuantizeWithScalesCpuTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    public void The_levels_times_the_scales_are_the_fake_quantized_values(int bits)
    {
        const int rows = 13, cols = 77;
        using var cpu = new CpuBackend();
        var x = RandomArray(rows * cols, bits, 2);
        var scales = Enumerable.Range(0, rows).Select(r => 0.003f * (r + 1)).ToArray();
        var q = Upload(cpu, new sbyte[rows * cols]);
        var fake = Upload(cpu, new float[rows * cols]);
        cpu.QuantizeWithScales(q, Upload(cpu, x), Upload(cpu, scales), bits, rows, cols);
        cpu.FakeQuantize(fake, Upload(cpu, x), Upload(cpu, scales), bits, rows, cols);
        var (levels, expected) = (Download(cpu, q), Download(cpu, fake));
        int qmax = (1 << (bits - 1)) - 1;
        for (int i = 0; i < levels.Length; i++)
        {
            Assert.InRange(levels[i], -qmax, qmax);
            Assert.Equal(expected[i], levels[i] * scales[i / cols]);
        }
    }
}
