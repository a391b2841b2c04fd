using Engine.Tensors;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The vectorised elementwise kernels on every vector path (forced narrower than the CPU's best) against their
/// references, at lengths with vector tails and several thread chunks; GELU's accuracy over a dense sweep.
/// </summary>
public unsafe class CpuElementwiseKernelTests
{
    public static TheoryData<SimdLevel, int> LevelsAndCounts()
    {
        var data = new TheoryData<SimdLevel, int>();
        foreach (var level in new[] { SimdLevel.Scalar, SimdLevel.Vector256, SimdLevel.Vector512 })
            foreach (int count in new[] { 1, 13, 4099, 70_001 })
                data.Add(level, count);
        return data;
    }

    static void AssertClose(NativeBuffer actual, NativeBuffer expected, string what)
    {
        // Same bound as CpuGeluTests: float32 rounding of a few operations, far below a formula slip (≥ 1e-3).
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual.Ptr[i] - expected.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected.Ptr[i])), $"{what}[{i}] = {actual.Ptr[i]:R}, reference {expected.Ptr[i]:R}");
    }

    [Theory, MemberData(nameof(LevelsAndCounts))]
    public void Gelu_forms_match_their_references(SimdLevel level, int count)
    {
        var rng = new Random(count);
        using var x = NativeBuffer.Random(count, rng);
        for (int i = 0; i < count; i++) x.Ptr[i] *= 8;
        using var dy = NativeBuffer.Random(count, rng);
        using var start = NativeBuffer.Random(count, rng);
        using var y = NativeBuffer.Filled(count, float.NaN);
        using var dx = NativeBuffer.Filled(count, 0);
        using var refY = NativeBuffer.Filled(count, 0);
        using var refDx = NativeBuffer.Filled(count, 0);

        start.Span.CopyTo(dx.Span); start.Span.CopyTo(refDx.Span);
        using (Simd.ForceForCurrentThread(level)) { CpuGelu.Forward(y.Ptr, x.Ptr, count); CpuGelu.Backward(dx.Ptr, dy.Ptr, x.Ptr, count, GradientWrite.Accumulate); }
        GeluTanh<float>.Forward(refY.Ptr, x.Ptr, count);
        GeluTanh<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, count);
        AssertClose(y, refY, "tanh y"); AssertClose(dx, refDx, "tanh dx");

        start.Span.CopyTo(dx.Span); start.Span.CopyTo(refDx.Span);
        using (Simd.ForceForCurrentThread(level)) { CpuGeluErf.Forward(y.Ptr, x.Ptr, count); CpuGeluErf.Backward(dx.Ptr, dy.Ptr, x.Ptr, count, GradientWrite.Accumulate); }
        GeluErf<float>.Forward(refY.Ptr, x.Ptr, count);
        GeluErf<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, count);
        AssertClose(y, refY, "erf y"); AssertClose(dx, refDx, "erf dx");
    }

    [Theory]
    [InlineData(SimdLevel.Scalar, 3, 7)]
    [InlineData(SimdLevel.Vector256, 5, 29)]
    [InlineData(SimdLevel.Vector512, 5, 29)]
    [InlineData(SimdLevel.Vector512, 300, 517)] // several row blocks
    public void Gated_gelu_matches_its_reference(SimdLevel level, int N, int F)
    {
        var rng = new Random(N * F);
        using var x = NativeBuffer.Random(N * 2 * F, rng);
        for (int i = 0; i < x.Length; i++) x.Ptr[i] *= 6;
        using var dy = NativeBuffer.Random(N * F, rng);
        using var start = NativeBuffer.Random(N * 2 * F, rng);
        using var y = NativeBuffer.Filled(N * F, float.NaN);
        using var refY = NativeBuffer.Filled(N * F, 0);
        using var dx = NativeBuffer.Filled(N * 2 * F, 0);
        using var refDx = NativeBuffer.Filled(N * 2 * F, 0);
        start.Span.CopyTo(dx.Span); start.Span.CopyTo(refDx.Span);
        using (Simd.ForceForCurrentThread(level)) { CpuGatedGelu.Forward(y.Ptr, x.Ptr, N, F); CpuGatedGelu.Backward(dx.Ptr, dy.Ptr, x.Ptr, N, F, GradientWrite.Accumulate); }
        GatedGelu<float>.Forward(refY.Ptr, x.Ptr, N, F);
        GatedGelu<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, N, F);
        AssertClose(y, refY, "y"); AssertClose(dx, refDx, "dx");
    }

    [Theory, MemberData(nameof(LevelsAndCounts))]
    public void Add_accumulate_and_scale_give_the_reference_bits(SimdLevel level, int count)
    {
        var rng = new Random(count + 1);
        using var a = NativeBuffer.Random(count, rng);
        using var b = NativeBuffer.Random(count, rng);
        using var got = NativeBuffer.Filled(count, float.NaN);
        using var expected = NativeBuffer.Filled(count, float.NaN);
        using (Simd.ForceForCurrentThread(level)) CpuElementwise.Add(got.Ptr, a.Ptr, b.Ptr, count);
        Elementwise<float>.Add(expected.Ptr, a.Ptr, b.Ptr, count);
        Assert.Equal(expected.ToArray(), got.ToArray());

        using (Simd.ForceForCurrentThread(level)) { CpuElementwise.Accumulate(got.Ptr, a.Ptr, count); CpuElementwise.Scale(got.Ptr, count, 0.37f); }
        Elementwise<float>.Accumulate(expected.Ptr, a.Ptr, count);
        Elementwise<float>.Scale(expected.Ptr, count, 0.37f);
        Assert.Equal(expected.ToArray(), got.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(65_537)]
    [InlineData(300_001)] // five chunks, the last ragged
    public void Sum_of_squares_is_exact_to_float64_and_the_same_bits_on_every_path_and_thread_count(int count)
    {
        using var x = NativeBuffer.Random(count, new Random(count));
        double expected = Elementwise<float>.SumOfSquares(x.Ptr, count);
        double best = CpuElementwise.SumOfSquares(x.Ptr, count);
        // Float64 sums of float32 squares (exact products): only the order differs, 1e-12 relative is generous.
        Assert.True(Math.Abs(best - expected) <= 1e-12 * expected, $"{best:R} vs {expected:R}");
        foreach (var level in new[] { SimdLevel.Scalar, SimdLevel.Vector256 })
            using (Simd.ForceForCurrentThread(level)) Assert.Equal(best, CpuElementwise.SumOfSquares(x.Ptr, count));
        foreach (int threads in new[] { 1, 3 })
        {
            using var threadLimit = new ThreadLimit(threads);
            Assert.Equal(best, CpuElementwise.SumOfSquares(x.Ptr, count));
        }
    }

    [Theory]
    [InlineData(SimdLevel.Scalar)]
    [InlineData(SimdLevel.Vector256)]
    [InlineData(SimdLevel.Vector512)]
    public void Gelu_value_and_derivative_are_within_the_stated_error_over_a_dense_sweep(SimdLevel level)
    {
        const int count = 400_001;
        using var x = new NativeBuffer(count);
        for (int i = 0; i < count; i++) x.Ptr[i] = -10f + 20f * i / (count - 1); // step 5e-5 over [−10, 10]
        using var ones = NativeBuffer.Filled(count, 1);
        using var y = new NativeBuffer(count);
        using var slope = NativeBuffer.Filled(count, 0);
        using var erfY = new NativeBuffer(count);
        using var erfSlope = NativeBuffer.Filled(count, 0);
        using (Simd.ForceForCurrentThread(level))
        {
            CpuGelu.Forward(y.Ptr, x.Ptr, count);
            CpuGelu.Backward(slope.Ptr, ones.Ptr, x.Ptr, count, GradientWrite.Accumulate);
            CpuGeluErf.Forward(erfY.Ptr, x.Ptr, count);
            CpuGeluErf.Backward(erfSlope.Ptr, ones.Ptr, x.Ptr, count, GradientWrite.Accumulate);
        }
        var xs = new double[count];
        for (int i = 0; i < count; i++) xs[i] = x.Ptr[i];
        double[] refY = new double[count], refSlope = new double[count], refErfY = new double[count], refErfSlope = new double[count], one = new double[count];
        Array.Fill(one, 1.0);
        fixed (double* px = xs, py = refY, ps = refSlope, pey = refErfY, pes = refErfSlope, po = one)
        {
            GeluTanh<double>.Forward(py, px, count);
            GeluTanh<double>.Backward(ps, po, px, count);
            GeluErf<double>.Forward(pey, px, count);
            GeluErf<double>.Backward(pes, po, px, count);
        }
        double worst = 0, worstErf = 0;
        for (int i = 0; i < count; i++)
        {
            worst = Math.Max(worst, Math.Abs(y.Ptr[i] - refY[i]) / Math.Max(1, Math.Abs(refY[i])));
            worst = Math.Max(worst, Math.Abs(slope.Ptr[i] - refSlope[i]) / Math.Max(1, Math.Abs(refSlope[i])));
            worstErf = Math.Max(worstErf, Math.Abs(erfY.Ptr[i] - refErfY[i]) / Math.Max(1, Math.Abs(refErfY[i])));
            worstErf = Math.Max(worstErf, Math.Abs(erfSlope.Ptr[i] - refErfSlope[i]) / Math.Max(1, Math.Abs(refErfSlope[i])));
        }
        // Stated in CpuGelu's and CpuGeluErf's doc comments.
        Assert.True(worst <= 4e-7 && worstErf <= 1e-6, $"tanh form: {worst:E3}, erf form: {worstErf:E3} (of max(1, |value|))");
    }
}
