using Engine.Backends.Cpu.Ops;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// GELU (tanh form) against known values and its backward against float64 central finite differences (<see cref="Engine.Tests.Support.FiniteDifference"/>: loss = Σ w·output
/// with random w, so dOutput = w; its tolerance and why); the residual add's backward.
/// </summary>
public unsafe class ElementwiseGradientTests
{
    readonly Random rng = new(20240520);

    [Fact]
    public void Gelu_backward_matches_finite_differences()
    {
        double[] x = Random(rng, 37, 4), dOut = Random(rng, 37);
        var y = new double[x.Length];
        double Loss() { fixed (double* py = y, px = x) GeluTanh<double>.Forward(py, px, x.Length); return Dot(y, dOut); }
        var dx = new double[x.Length];
        fixed (double* pdx = dx, pd = dOut, px = x) GeluTanh<double>.Backward(pdx, pd, px, x.Length);
        AssertClose(dx, Gradient(x, Loss), "dInput");
    }

    [Fact]
    public void Gelu_tanh_matches_known_values()
    {
        double[] x = { -3, -1, 0, 0.5, 2 }, y = new double[5];
        fixed (double* py = y, px = x) GeluTanh<double>.Forward(py, px, 5);
        // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) evaluated independently.
        double[] expected = x.Select(v => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))).ToArray();
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], y[i], 12);
        Assert.Equal(1.9545976940, y[4], 8);
    }

    [Fact]
    public void Residual_add_backward_is_identity_on_both_inputs()
    {
        double[] a = Random(rng, 11), b = Random(rng, 11), dOut = Random(rng, 11), y = new double[11];
        double Loss() { fixed (double* py = y, pa = a, pb = b) Elementwise<double>.Add(py, pa, pb, 11); return Dot(y, dOut); }
        // Backward of y = a + b routes dOut unchanged to both: the engine accumulates dOut into each input's gradient.
        AssertClose(dOut, Gradient(a, Loss), "dA");
        AssertClose(dOut, Gradient(b, Loss), "dB");
    }
}
