using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The quantization kernels (ops/quantization/quantization.cu) against their CPU twins on fresh random inputs of odd
/// sizes with the edge cases planted (a zero row, a NaN, exact halves, values past the clamp), outputs poisoned before
/// the call. Integers and scales come from the same float division and ties-to-even rounding on both sides, so every
/// result must match bit for bit. Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class QuantizationGpuTests
{
    static void AssertSameBits(float[] cpu, float[] gpu, string what)
    {
        for (int i = 0; i < cpu.Length; i++)
            if (BitConverter.SingleToUInt32Bits(cpu[i]) != BitConverter.SingleToUInt32Bits(gpu[i]))
                Assert.Fail($"{what}[{i}]: GPU {gpu[i]:R}, CPU {cpu[i]:R}");
    }

    /// <summary>Random values with a zero row (row 1), a NaN, and exact halves of row 0's step planted.</summary>
    static float[] Inputs(CpuGpuPair p, int rows, int cols)
    {
        var w = p.RandomArray(rows * cols, 4);
        for (int c = 0; c < cols; c++) w[cols + c] = 0;
        w[0] = 127f; // row 0: max 127, so its step is exactly 1 and the halves below are exact
        w[1] = 0.5f; w[2] = 1.5f; w[3] = -2.5f;
        w[rows * cols - 2] = float.NaN;
        return w;
    }

    [Theory]
    [InlineData(37, 129, 8)]
    [InlineData(5, 1000, 4)]
    [InlineData(300, 3, 2)]
    public void Per_channel_quantize_and_dequantize_match_the_CPU_bit_for_bit(int rows, int cols, int bits)
    {
        using var p = Open(rows + cols + bits);
        var w = p.Upload(Inputs(p, rows, cols));
        var q = p.Upload(Enumerable.Repeat((sbyte)99, rows * cols).ToArray());
        var scales = p.Poisoned(rows);
        p.Cpu.QuantizePerChannel(q.C, scales.C, w.C, rows, cols, bits);
        p.Gpu.QuantizePerChannel(q.G, scales.G, w.G, rows, cols, bits);
        var (qc, qg) = p.Download(q);
        Assert.Equal(qc, qg);
        AssertSameBits(p.Download(scales).Cpu, p.Download(scales).Gpu, "scales");

        var output = p.Poisoned(rows * cols);
        p.Cpu.Dequantize(output.C, q.C, scales.C, rows, cols);
        p.Gpu.Dequantize(output.G, q.G, scales.G, rows, cols);
        var (oc, og) = p.Download(output);
        AssertSameBits(oc, og, "dequantized");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1001)]
    [InlineData(300_007)]
    public void Per_tensor_quantize_matches_the_CPU_bit_for_bit(int n)
    {
        using var p = Open(n);
        var values = p.RandomArray(n, 30);
        if (n > 10) { values[n / 2] = float.NaN; values[7] = -90.5f; values[8] = 0.5f * 90.5f / 127; }
        var x = p.Upload(values);
        var q = p.Upload(Enumerable.Repeat((sbyte)99, n).ToArray());
        var scale = p.Poisoned(1);
        p.Cpu.QuantizeInt8PerTensor(q.C, scale.C, x.C);
        p.Gpu.QuantizeInt8PerTensor(q.G, scale.G, x.G);
        var (sc, sg) = p.Download(scale);
        AssertSameBits(sc, sg, "scale");
        var (qc, qg) = p.Download(q);
        Assert.Equal(qc, qg);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    [InlineData(2)]
    public void Fake_quantize_matches_the_CPU_bit_for_bit(int bits)
    {
        const int rows = 41, cols = 67;
        using var p = Open(bits);
        var input = p.Upload(Inputs(p, rows, cols).Select((v, i) => i % 13 == 5 ? v * 1000 : v).ToArray()); // past the clamp
        var scaleValues = p.RandomArray(rows, 0.05).Select(MathF.Abs).ToArray();
        scaleValues[0] = 1f; scaleValues[2] = 0f;
        var scales = p.Upload(scaleValues);
        var output = p.Poisoned(rows * cols);
        p.Cpu.FakeQuantize(output.C, input.C, scales.C, bits, rows, cols);
        p.Gpu.FakeQuantize(output.G, input.G, scales.G, bits, rows, cols);
        var (oc, og) = p.Download(output);
        AssertSameBits(oc, og, "fake quantized"); // the NaN input passes through with its bits
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_001)]
    public void Int4_pack_and_unpack_match_the_CPU(int n)
    {
        using var p = Open(n + 1);
        var q = p.Upload(Enumerable.Range(0, n).Select(_ => (sbyte)p.Rng.Next(-8, 8)).ToArray());
        var packed = p.Upload(Enumerable.Repeat((byte)0xAA, (n + 1) / 2).ToArray());
        p.Cpu.PackInt4(packed.C, q.C, n);
        p.Gpu.PackInt4(packed.G, q.G, n);
        var (pc, pg) = p.Download(packed);
        Assert.Equal(pc, pg);
        var back = p.Upload(Enumerable.Repeat((sbyte)99, n).ToArray());
        p.Cpu.UnpackInt4(back.C, packed.C, n);
        p.Gpu.UnpackInt4(back.G, packed.G, n);
        var (bc, bg) = p.Download(back);
        Assert.Equal(bc, bg);
        Assert.Equal(p.Download(q).Cpu, bg);
    }
}

/// <summary>
/// LSQ's backward kernels against the CPU twin: the values' gradient is elementwise (bit for bit); the steps' is a
/// double sum per (row, 4096-column chunk), a tree on the GPU and a loop on the CPU, then the chunks in order on both:
/// equal to double rounding, so within 1e-6 relative once rounded to float and added.
/// </summary>
[Trait("Category", "GPU")]
public class LsqGpuTests
{
    [Theory]
    [InlineData(37, 129, 8)]
    [InlineData(1, 9000, 8)]
    [InlineData(5, 4097, 4)]
    public void Fake_quantize_backward_matches_the_CPU(int rows, int cols, int bits)
    {
        using var p = Open(rows * 7 + cols + bits);
        var xValues = p.RandomArray(rows * cols, 3);
        xValues[1] = float.NaN;
        var x = p.Upload(xValues);
        var dOut = p.Upload(p.RandomArray(rows * cols, 1));
        var stepValues = Enumerable.Range(0, rows).Select(r => 0.02f * (1 + r % 5)).ToArray();
        if (rows > 2) stepValues[2] = 0f;
        var steps = p.Upload(stepValues);
        var dInput = p.Upload(p.RandomArray(rows * cols, 1));
        var dSteps = p.Upload(p.RandomArray(rows, 1));
        float g = Engine.Layers.LinearQuantization.StepGradientScale(cols, bits);
        p.Cpu.FakeQuantizeBackward(dInput.C, dSteps.C, dOut.C, x.C, steps.C, bits, rows, cols, g);
        p.Gpu.FakeQuantizeBackward(dInput.G, dSteps.G, dOut.G, x.G, steps.G, bits, rows, cols, g);
        var (ic, ig) = p.Download(dInput);
        Assert.Equal(ic, ig);
        var (sc, sg) = p.Download(dSteps);
        for (int r = 0; r < rows; r++)
            Assert.True(Math.Abs(sc[r] - sg[r]) <= 1e-6 * Math.Abs(sc[r]) + 1e-9, $"step {r}: GPU {sg[r]:R}, CPU {sc[r]:R}");
    }
}

/// <summary>Quantizing with given scales (QAT's learnt steps) on the GPU against the CPU: the same levels, bit for bit.</summary>
[Trait("Category", "GPU")]
public class QuantizeWithScalesGpuTests
{
    [Theory]
    [InlineData(37, 129, 8)]
    [InlineData(1, 70_001, 8)]
    [InlineData(9, 64, 4)]
    public void Levels_for_given_scales_match_the_CPU(int rows, int cols, int bits)
    {
        using var p = Open(rows + cols);
        var values = p.RandomArray(rows * cols, 3);
        values[2] = float.NaN; values[3] = 1e6f;
        var x = p.Upload(values);
        var scaleValues = Enumerable.Range(0, rows).Select(r => 0.01f * (r + 1)).ToArray();
        if (rows > 1) scaleValues[1] = 0f;
        var scales = p.Upload(scaleValues);
        var q = p.Upload(Enumerable.Repeat((sbyte)99, rows * cols).ToArray());
        p.Cpu.QuantizeWithScales(q.C, x.C, scales.C, bits, rows, cols);
        p.Gpu.QuantizeWithScales(q.G, x.G, scales.G, bits, rows, cols);
        var (qc, qg) = p.Download(q);
        Assert.Equal(qc, qg);
    }
}
