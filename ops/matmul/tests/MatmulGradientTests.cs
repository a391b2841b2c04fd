using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The matrix product's backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why), with and without a bias.
/// </summary>
public unsafe class MatmulGradientTests
{
    readonly Random rng = new(20240520);

    [Theory]
    [InlineData(3, 5, 7, true)]
    [InlineData(4, 9, 2, false)]
    public void Matmul_backward_matches_finite_differences(int N, int C, int OC, bool bias)
    {
        double[] x = Random(rng, N * C), w = Random(rng, OC * C), b = Random(rng, OC), dOut = Random(rng, N * OC);
        var y = new double[N * OC];
        double Loss()
        {
            fixed (double* py = y, px = x, pw = w, pb = b) Matmul<double>.Forward(py, px, pw, bias ? pb : null, N, C, OC);
            return Dot(y, dOut);
        }
        var (dx, dw, db) = (new double[N * C], new double[OC * C], new double[OC]);
        fixed (double* pdx = dx, pdw = dw, pdb = db, pd = dOut, px = x, pw = w)
            Matmul<double>.Backward(pdx, pdw, bias ? pdb : null, pd, px, pw, N, C, OC);
        AssertClose(dx, Gradient(x, Loss), "dInput");
        AssertClose(dw, Gradient(w, Loss), "dWeight");
        if (bias) AssertClose(db, Gradient(b, Loss), "dBias");
    }
}
