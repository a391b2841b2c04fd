using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// T5's gated GELU: the forward against GELU(gate)·linear, the backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why).
/// </summary>
public unsafe class GatedGeluGradientTests
{
    readonly Random rng = new(20261129);

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
