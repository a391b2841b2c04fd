using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// LayerNorm's backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why), in float64 through the same
/// generic code the float32 backend runs. Sizes are small and odd on purpose.
/// </summary>
public unsafe class LayerNormGradientTests
{
    readonly Random rng = new(20240520);

    [Theory]
    [InlineData(3, 7)]
    [InlineData(5, 16)]
    public void LayerNorm_backward_matches_finite_differences(int N, int C)
    {
        double[] x = Random(rng, N * C), w = Random(rng, C), b = Random(rng, C), dOut = Random(rng, N * C);
        var y = new double[N * C]; var mean = new double[N]; var rstd = new double[N];
        double Loss()
        {
            fixed (double* py = y, pm = mean, pr = rstd, px = x, pw = w, pb = b) LayerNorm<double>.Forward(py, pm, pr, px, pw, pb, N, C, 1e-5);
            return Dot(y, dOut);
        }
        var (dx, dw, db) = (new double[N * C], new double[C], new double[C]);
        Loss();
        fixed (double* pdx = dx, pdw = dw, pdb = db, pd = dOut, px = x, pw = w, pm = mean, pr = rstd)
            LayerNorm<double>.Backward(pdx, pdw, pdb, pd, px, pw, pm, pr, N, C);
        AssertClose(dx, Gradient(x, Loss), "dInput");
        AssertClose(dw, Gradient(w, Loss), "dWeight");
        AssertClose(db, Gradient(b, Loss), "dBias");
    }
}
