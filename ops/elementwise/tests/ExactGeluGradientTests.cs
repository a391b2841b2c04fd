using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// erf and the exact GELU (BERT) against tabulated values, and the exact GELU's backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why).
/// </summary>
public unsafe class ExactGeluGradientTests
{
    readonly Random rng = new(20261128);

    [Fact]
    public void Erf_and_exact_gelu_match_known_values()
    {
        // erf from tables (Abramowitz & Stegun 7.1): erf(0.5), erf(1), erf(2), erf(-3).
        Assert.Equal(0.5204998778130465, Erf.Of(0.5), 1e-14);
        Assert.Equal(0.8427007929497149, Erf.Of(1), 1e-14);
        Assert.Equal(0.9953222650189527, Erf.Of(2), 1e-14);
        Assert.Equal(-0.9999779095030014, Erf.Of(-3), 1e-14);
        Assert.Equal(1.0, Erf.Of(7));
        double[] x = { -3, -1, 0, 1, 2 }, y = new double[5];
        fixed (double* py = y, px = x) GeluErf<double>.Forward(py, px, 5);
        // x·Φ(x) with Φ(1) = 0.8413447460685429, Φ(2) = 0.9772498680518208, Φ(−3) = 0.0013498980316301.
        Assert.Equal(0.8413447460685429, y[3], 1e-14);
        Assert.Equal(2 * 0.9772498680518208, y[4], 1e-14);
        Assert.Equal(-1 * (1 - 0.8413447460685429), y[1], 1e-14);
        Assert.Equal(-3 * 0.0013498980316301, y[0], 1e-14);
        Assert.Equal(0, y[2]);
    }

    [Fact]
    public void Exact_gelu_backward_matches_finite_differences()
    {
        double[] x = Random(rng, 41, 5), dOut = Random(rng, 41);
        var y = new double[x.Length];
        double Loss() { fixed (double* py = y, px = x) GeluErf<double>.Forward(py, px, x.Length); return Dot(y, dOut); }
        var dx = new double[x.Length];
        fixed (double* pdx = dx, pd = dOut, px = x) GeluErf<double>.Backward(pdx, pd, px, x.Length);
        AssertClose(dx, Gradient(x, Loss), "dInput");
    }
}
