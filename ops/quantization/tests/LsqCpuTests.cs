using Engine.Backends.Cpu;
using Engine.Layers;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// LSQ's backward (FakeQuantizeBackward) on the CPU: hand-computed values for each case of the definition (inside the
/// clip range, below, above, on the boundary, a tie, NaN, a zero step), and random rows longer than a chunk against a
/// float64 loop written from the definition.
/// </summary>
public class LsqCpuTests
{
    [Fact]
    public void Each_case_of_the_definition_gives_its_hand_computed_gradient()
    {
        using var cpu = new CpuBackend();
        // 4 bits: Qp = 7; step 0.5 (a power of two, so every x / s below is exact).
        float[] x = [0.3f, -4f, 3.5f, 0.25f, float.NaN, 4f];
        // v = 0.6 (level 1, residual 0.4), −8 (below: −Qp), 7 (on the boundary: inside, residual 0), 0.5 (a tie: level 0,
        // residual −0.5), NaN (passes dOutput, no share), 8 (above: +Qp).
        float[] dOut = [1f, 2f, 3f, 4f, 5f, 6f];
        var dInput = Upload(cpu, Enumerable.Repeat(10f, x.Length).ToArray());
        var dSteps = Upload(cpu, new[] { 1f });
        const float g = 0.25f;
        cpu.FakeQuantizeBackward(dInput, dSteps, Upload(cpu, dOut), Upload(cpu, x), Upload(cpu, new[] { 0.5f }), 4, 1, x.Length, g);
        Assert.Equal(new[] { 11f, 10f, 13f, 14f, 15f, 10f }, Download(cpu, dInput));
        float residual = 1f - 0.3f / 0.5f; // rint(v) − v, in float as the op computes it
        double share = 1 * (double)residual + 2 * -7.0 + 3 * 0.0 + 4 * -0.5 + 6 * 7.0;
        Assert.Equal(1f + (float)(share * g), Download(cpu, dSteps)[0]);
    }

    [Fact]
    public void A_zero_step_passes_no_gradient_and_an_empty_input_gradient_is_skipped()
    {
        using var cpu = new CpuBackend();
        float[] x = [1f, -2f, 3f, 4f];
        var dInput = Upload(cpu, new float[4]);
        var dSteps = Upload(cpu, new[] { 0f, 0f });
        cpu.FakeQuantizeBackward(dInput, dSteps, Upload(cpu, new[] { 1f, 1f, 1f, 1f }), Upload(cpu, x), Upload(cpu, new[] { 0f, 1f }), 8, 2, 2, 1f);
        Assert.Equal(new[] { 0f, 0f, 1f, 1f }, Download(cpu, dInput)); // row 0 has a zero step
        Assert.Equal(new[] { 0f, 0f }, Download(cpu, dSteps)); // row 1: x / s are integers, residuals 0

        var steps = Upload(cpu, new[] { 0f });
        cpu.FakeQuantizeBackward(default, steps, Upload(cpu, new[] { 1f, 1f, 1f, 1f }), Upload(cpu, new[] { 0.3f, 0.3f, 0.3f, 0.3f }), Upload(cpu, new[] { 1f }), 8, 1, 4, 1f);
        Assert.Equal(4 * (0f - 0.3f), Download(cpu, steps)[0], 6);
    }

    [Theory]
    [InlineData(3, 5000, 8)]
    [InlineData(1, 20_000, 4)]
    [InlineData(17, 33, 2)]
    public void Random_rows_match_a_float64_loop_of_the_definition(int rows, int cols, int bits)
    {
        using var cpu = new CpuBackend();
        int qmax = (1 << (bits - 1)) - 1;
        var x = RandomArray(rows * cols, rows + cols, 2);
        var dOut = RandomArray(rows * cols, bits, 1);
        var steps = Enumerable.Range(0, rows).Select(r => 2f / qmax * (1 + r % 3)).ToArray();
        var dInput = Upload(cpu, new float[rows * cols]);
        var dSteps = Upload(cpu, new float[rows]);
        float g = LinearQuantization.StepGradientScale(cols, bits);
        cpu.FakeQuantizeBackward(dInput, dSteps, Upload(cpu, dOut), Upload(cpu, x), Upload(cpu, steps), bits, rows, cols, g);
        var (di, ds) = (Download(cpu, dInput), Download(cpu, dSteps));
        for (int r = 0; r < rows; r++)
        {
            double share = 0;
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                float v = x[i] / steps[r];
                bool inside = v >= -qmax && v <= qmax;
                Assert.Equal(inside ? dOut[i] : 0f, di[i]);
                share += dOut[i] * (double)(inside ? MathF.Round(v, MidpointRounding.ToEven) - v : Math.Sign(v) * qmax);
            }
            // The op sums in double over chunks of 4096 columns; this loop in one pass: the same sum to double rounding.
            Assert.True(Math.Abs(ds[r] - share * g) <= 1e-6 * Math.Abs(share * g) + 1e-12, $"row {r}: {ds[r]:R} vs {share * g:R}");
        }
    }
}
