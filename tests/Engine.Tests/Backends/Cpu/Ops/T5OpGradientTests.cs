using Engine.Backends.Cpu.Ops;
using Engine.Tensors;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The ops T5 added (RMSNorm, relative position bias, gated GELU): backward against float64 central finite
/// differences, as in <see cref="OpGradientTests"/> (same tolerance and reasoning), and the bucket formula against
/// values worked out from HF's _relative_position_bucket by hand.
/// </summary>
public unsafe class T5OpGradientTests
{
    readonly Random rng = new(20261129);

    [Fact]
    public void RmsNorm_forward_is_T5LayerNorm_and_backward_matches_finite_differences()
    {
        const int N = 5, C = 7;
        const double eps = 1e-6;
        double[] x = Random(rng, N * C, 2), w = Random(rng, C), dOut = Random(rng, N * C);
        var y = new double[N * C]; var rstd = new double[N];
        double Loss() { fixed (double* py = y, pr = rstd, px = x, pw = w) RmsNorm<double>.Forward(py, pr, px, pw, N, C, eps); return Dot(y, dOut); }
        Loss();
        for (int n = 0; n < N; n++)
        {
            double ms = 0;
            for (int i = 0; i < C; i++) ms += x[n * C + i] * x[n * C + i];
            double r = 1 / Math.Sqrt(ms / C + eps);
            Assert.Equal(r, rstd[n], 1e-12);
            for (int i = 0; i < C; i++) Assert.Equal(w[i] * x[n * C + i] * r, y[n * C + i], 1e-12); // no mean, no bias
        }
        var (dx, dw) = (new double[x.Length], new double[w.Length]);
        fixed (double* pdx = dx, pdw = dw, pd = dOut, px = x, pw = w, pr = rstd) RmsNorm<double>.Backward(pdx, pdw, pd, px, pw, pr, N, C);
        AssertClose(dx, Gradient(x, Loss), "dInput");
        AssertClose(dw, Gradient(w, Loss), "dWeight");
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(-1, 1, 1)]     // key one before the query
    [InlineData(1, 17, 0)]     // key one after: the encoder's second half; the decoder folds it into 0
    [InlineData(-7, 7, 7)]
    [InlineData(-8, 8, 8)]     // encoder: first logarithmic bucket of its half (max_exact 8)
    [InlineData(-15, 9, 15)]   // 8 + ⌊8·ln(15/8)/ln(16)⌋ = 9; decoder still exact below 16
    [InlineData(-20, 10, 17)]  // 8 + ⌊8·ln 2.5/ln 16⌋ = 10; 16 + ⌊16·ln 1.25/ln 8⌋ = 17
    [InlineData(-40, 12, 23)]  // 8 + ⌊8·ln 5/ln 16⌋ = 8 + ⌊4.64⌋; 16 + ⌊16·ln 2.5/ln 8⌋ = 16 + ⌊7.05⌋
    [InlineData(40, 28, 0)]
    [InlineData(-100, 15, 30)] // 8 + ⌊8·ln 12.5/ln 16⌋ = 8 + ⌊7.29⌋; 16 + ⌊16·ln 6.25/ln 8⌋ = 16 + ⌊14.1⌋
    [InlineData(-1000, 15, 31)] // beyond max distance: the last bucket of the half
    [InlineData(1000, 31, 0)]
    public void Buckets_follow_HF_relative_position_bucket(int relative, int bidirectionalBucket, int causalBucket)
    {
        var encoder = new RelativePositionShape(1, 1, 1, 32, 128, Bidirectional: true);
        var decoder = encoder with { Bidirectional = false };
        Assert.Equal(bidirectionalBucket, encoder.Bucket(relative));
        Assert.Equal(causalBucket, decoder.Bucket(relative));
    }

    [Theory]
    [InlineData(3, 5, 7, 8, 20, true)]
    [InlineData(2, 6, 6, 10, 12, false)]
    [InlineData(2, 40, 3, 6, 8, true)] // long distances: many distances share the last buckets
    public void Relative_position_bias_backward_matches_finite_differences(int heads, int Tq, int Tk, int buckets, int maxDistance, bool bidirectional)
    {
        var s = new RelativePositionShape(heads, Tq, Tk, buckets, maxDistance, bidirectional);
        double[] table = Random(rng, buckets * heads), dOut = Random(rng, (int)s.BiasCount);
        var bias = new double[s.BiasCount];
        double Loss() { fixed (double* pb = bias, pt = table) RelativePositionBias<double>.Forward(pb, pt, s); return Dot(bias, dOut); }
        Loss();
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < Tq; t++)
                for (int u = 0; u < Tk; u++)
                    Assert.Equal(table[s.Bucket(u - t) * heads + h], bias[((long)h * Tq + t) * Tk + u]);
        var dTable = new double[table.Length];
        fixed (double* pdt = dTable, pd = dOut) RelativePositionBias<double>.Backward(pdt, pd, s);
        AssertClose(dTable, Gradient(table, Loss), "dTable");
    }

    [Fact]
    public void Gated_gelu_forward_and_backward_match_finite_differences()
    {
        const int N = 4, F = 9;
        double[] x = Random(rng, N * 2 * F, 4), dOut = Random(rng, N * F);
        var y = new double[N * F];
        double Loss() { fixed (double* py = y, px = x) GatedGelu<double>.Forward(py, px, N, F); return Dot(y, dOut); }
        Loss();
        var gelu = new double[1];
        for (int n = 0; n < N; n++)
            for (int i = 0; i < F; i++)
            {
                double[] gate = { x[n * 2 * F + i] };
                fixed (double* pg = gelu, px = gate) GeluTanh<double>.Forward(pg, px, 1);
                Assert.Equal(gelu[0] * x[n * 2 * F + F + i], y[n * F + i], 1e-12);
            }
        var dx = new double[x.Length];
        fixed (double* pdx = dx, pd = dOut, px = x) GatedGelu<double>.Backward(pdx, pd, px, N, F);
        AssertClose(dx, Gradient(x, Loss), "dInput");
    }
}
