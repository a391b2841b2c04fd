using Engine.Backends.Cpu.Ops;
using Engine.Tensors;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// T5's relative position bias: the bucket formula against values worked out from HF's _relative_position_bucket by
/// hand, the lookup, and the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why).
/// </summary>
public unsafe class RelativePositionBiasGradientTests
{
    readonly Random rng = new(20261129);

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
}
