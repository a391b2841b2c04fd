using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The float32 LayerNorm / RMSNorm kernels (and the fused residual + LayerNorm) against the float64-summing
/// references, on every vector path, at widths with vector tails and with several row blocks; the parameter
/// gradients the same bits for any thread count.
/// </summary>
public unsafe class CpuNormalizationTests
{
    public static TheoryData<SimdLevel, int, int> Cases()
    {
        var data = new TheoryData<SimdLevel, int, int>();
        foreach (var level in new[] { SimdLevel.Scalar, SimdLevel.Vector256, SimdLevel.Vector512 })
        {
            data.Add(level, 3, 5);
            data.Add(level, 7, 37);
            data.Add(level, 300, 128); // three row blocks, the last ragged
            data.Add(level, 45, 771);
        }
        return data;
    }

    // Float32 row sums (≤ 771 terms in 16 lanes) against float64 ones: a few 1e-7 relative on values of order 1–3
    // (x̂ spans ±3); 2e-6 of max(1, |value|) leaves room and still catches any formula slip (≥ 1e-3). The parameter
    // gradients (float64 partial sums of float32 products over up to 300 rows): 2e-6 of max(N, |value|) is ample.
    static void AssertClose(float* actual, float* expected, int count, string what, double scale = 1)
    {
        for (int i = 0; i < count; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 2e-6 * Math.Max(scale, Math.Abs(expected[i])), $"{what}[{i}] = {actual[i]:R}, reference {expected[i]:R}");
    }

    static NativeBuffer Shifted(int length, Random rng)
    {
        var b = NativeBuffer.Random(length, rng);
        for (int i = 0; i < length; i++) b.Ptr[i] = 3 * b.Ptr[i] + 0.5f; // a mean away from 0 exercises the centring
        return b;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Layernorm_matches_the_reference(SimdLevel level, int N, int C)
    {
        var rng = new Random(N * 1000 + C);
        using var x = Shifted(N * C, rng);
        using var other = NativeBuffer.Random(N * C, rng);
        using var w = NativeBuffer.Random(C, rng);
        using var b = NativeBuffer.Random(C, rng);
        using var dy = NativeBuffer.Random(N * C, rng);
        using var dxStart = NativeBuffer.Random(N * C, rng);
        using var dwStart = NativeBuffer.Random(C, rng);

        using var y = NativeBuffer.Filled(N * C, float.NaN);
        using var mean = NativeBuffer.Filled(N, float.NaN);
        using var rstd = NativeBuffer.Filled(N, float.NaN);
        using var refY = NativeBuffer.Filled(N * C, 0);
        using var refMean = NativeBuffer.Filled(N, 0);
        using var refRstd = NativeBuffer.Filled(N, 0);
        using (Simd.ForceForCurrentThread(level)) CpuLayerNorm.Forward(y.Ptr, mean.Ptr, rstd.Ptr, x.Ptr, w.Ptr, b.Ptr, N, C, 1e-5f);
        LayerNorm<float>.Forward(refY.Ptr, refMean.Ptr, refRstd.Ptr, x.Ptr, w.Ptr, b.Ptr, N, C, 1e-5f);
        AssertClose(y.Ptr, refY.Ptr, N * C, "y");
        AssertClose(mean.Ptr, refMean.Ptr, N, "mean");
        AssertClose(rstd.Ptr, refRstd.Ptr, N, "rstd");

        // The fused form: residual = x + other, then LayerNorm of it.
        using var residual = NativeBuffer.Filled(N * C, float.NaN);
        using var refResidual = NativeBuffer.Filled(N * C, 0);
        using (Simd.ForceForCurrentThread(level)) CpuLayerNorm.ResidualForward(residual.Ptr, y.Ptr, mean.Ptr, rstd.Ptr, x.Ptr, other.Ptr, w.Ptr, b.Ptr, N, C, 1e-5f);
        Elementwise<float>.Add(refResidual.Ptr, x.Ptr, other.Ptr, N * C);
        LayerNorm<float>.Forward(refY.Ptr, refMean.Ptr, refRstd.Ptr, refResidual.Ptr, w.Ptr, b.Ptr, N, C, 1e-5f);
        Assert.Equal(refResidual.ToArray(), residual.ToArray());
        AssertClose(y.Ptr, refY.Ptr, N * C, "fused y");
        AssertClose(rstd.Ptr, refRstd.Ptr, N, "fused rstd");

        foreach (bool withBias in new[] { true, false })
        {
            using var dx = NativeBuffer.Filled(N * C, 0);
            using var dw = NativeBuffer.Filled(C, 0);
            using var db = NativeBuffer.Filled(C, 0);
            using var refDx = NativeBuffer.Filled(N * C, 0);
            using var refDw = NativeBuffer.Filled(C, 0);
            using var refDb = NativeBuffer.Filled(C, 0);
            foreach (var (d, r) in new[] { (dx, refDx) }) { dxStart.Span.CopyTo(d.Span); dxStart.Span.CopyTo(r.Span); }
            dwStart.Span.CopyTo(dw.Span); dwStart.Span.CopyTo(refDw.Span); dwStart.Span.CopyTo(db.Span); dwStart.Span.CopyTo(refDb.Span);
            using (Simd.ForceForCurrentThread(level))
                CpuLayerNorm.Backward(dx.Ptr, dw.Ptr, withBias ? db.Ptr : null, dy.Ptr, refResidual.Ptr, w.Ptr, refMean.Ptr, refRstd.Ptr, N, C);
            LayerNorm<float>.Backward(refDx.Ptr, refDw.Ptr, withBias ? refDb.Ptr : null, dy.Ptr, refResidual.Ptr, w.Ptr, refMean.Ptr, refRstd.Ptr, N, C);
            AssertClose(dx.Ptr, refDx.Ptr, N * C, "dx");
            AssertClose(dw.Ptr, refDw.Ptr, C, "dw", scale: N);
            AssertClose(db.Ptr, refDb.Ptr, C, "db", scale: N);
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Rmsnorm_matches_the_reference(SimdLevel level, int N, int C)
    {
        var rng = new Random(N * 1000 + C + 1);
        using var x = Shifted(N * C, rng);
        using var w = NativeBuffer.Random(C, rng);
        using var dy = NativeBuffer.Random(N * C, rng);
        using var dxStart = NativeBuffer.Random(N * C, rng);
        using var y = NativeBuffer.Filled(N * C, float.NaN);
        using var rstd = NativeBuffer.Filled(N, float.NaN);
        using var refY = NativeBuffer.Filled(N * C, 0);
        using var refRstd = NativeBuffer.Filled(N, 0);
        using (Simd.ForceForCurrentThread(level)) CpuRmsNorm.Forward(y.Ptr, rstd.Ptr, x.Ptr, w.Ptr, N, C, 1e-6f);
        RmsNorm<float>.Forward(refY.Ptr, refRstd.Ptr, x.Ptr, w.Ptr, N, C, 1e-6f);
        AssertClose(y.Ptr, refY.Ptr, N * C, "y");
        AssertClose(rstd.Ptr, refRstd.Ptr, N, "rstd");

        using var dx = NativeBuffer.Filled(N * C, 0);
        using var refDx = NativeBuffer.Filled(N * C, 0);
        using var dw = NativeBuffer.Filled(C, 0.25f);
        using var refDw = NativeBuffer.Filled(C, 0.25f);
        dxStart.Span.CopyTo(dx.Span); dxStart.Span.CopyTo(refDx.Span);
        using (Simd.ForceForCurrentThread(level)) CpuRmsNorm.Backward(dx.Ptr, dw.Ptr, dy.Ptr, x.Ptr, w.Ptr, refRstd.Ptr, N, C);
        RmsNorm<float>.Backward(refDx.Ptr, refDw.Ptr, dy.Ptr, x.Ptr, w.Ptr, refRstd.Ptr, N, C);
        AssertClose(dx.Ptr, refDx.Ptr, N * C, "dx");
        AssertClose(dw.Ptr, refDw.Ptr, C, "dw", scale: N);
    }

    [Fact]
    public void Parameter_gradients_are_the_same_bits_for_any_thread_count()
    {
        const int N = 1000, C = 96; // 170 rows per block: six blocks
        var rng = new Random(42);
        using var x = Shifted(N * C, rng);
        using var w = NativeBuffer.Random(C, rng);
        using var dy = NativeBuffer.Random(N * C, rng);
        using var mean = NativeBuffer.Filled(N, 0);
        using var rstd = NativeBuffer.Filled(N, 0);
        using var y = NativeBuffer.Filled(N * C, 0);
        CpuLayerNorm.Forward(y.Ptr, mean.Ptr, rstd.Ptr, x.Ptr, w.Ptr, null, N, C, 1e-5f);
        float[]? first = null;
        foreach (int threads in new[] { 1, 2, 5 })
        {
            using var threadLimit = new ThreadLimit(threads);
            using var dx = NativeBuffer.Filled(N * C, 0);
            using var dw = NativeBuffer.Filled(C, 0);
            using var db = NativeBuffer.Filled(C, 0);
            using var dwRms = NativeBuffer.Filled(C, 0);
            CpuLayerNorm.Backward(dx.Ptr, dw.Ptr, db.Ptr, dy.Ptr, x.Ptr, w.Ptr, mean.Ptr, rstd.Ptr, N, C);
            CpuRmsNorm.Backward(dx.Ptr, dwRms.Ptr, dy.Ptr, x.Ptr, w.Ptr, rstd.Ptr, N, C);
            float[] all = [.. dx.ToArray(), .. dw.ToArray(), .. db.ToArray(), .. dwRms.ToArray()];
            if (first == null) first = all;
            else Assert.Equal(first, all);
        }
    }
}
