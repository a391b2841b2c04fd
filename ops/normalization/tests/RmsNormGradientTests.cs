using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// RMSNorm (T5's layer norm): the forward against its definition, the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why).
/// </summary>
public unsafe class RmsNormGradientTests
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
}
