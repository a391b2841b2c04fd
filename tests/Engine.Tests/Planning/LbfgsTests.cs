using Engine.Planning;

namespace Engine.Tests.Planning;

public class LbfgsTests
{
    [Fact]
    public void Minimises_the_Rosenbrock_valley()
    {
        double Rosenbrock(ReadOnlySpan<double> x, Span<double> g)
        {
            double a = 1 - x[0], b = x[1] - x[0] * x[0];
            g[0] = -2 * a - 400 * x[0] * b;
            g[1] = 200 * b;
            return a * a + 100 * b * b;
        }
        var r = Lbfgs.Minimize(Rosenbrock, new[] { -1.2, 1.0 });
        Assert.True(r.Converged);
        Assert.Equal(1.0, r.X[0], 1e-6);
        Assert.Equal(1.0, r.X[1], 1e-6);
        Assert.InRange(r.Iterations, 1, 200);
    }

    [Fact]
    public void Solves_an_ill_conditioned_quadratic_in_few_iterations()
    {
        var scale = new[] { 1.0, 10.0, 100.0, 1000.0, 1e4 };
        double Quadratic(ReadOnlySpan<double> x, Span<double> g)
        {
            double f = 0;
            for (int i = 0; i < x.Length; i++) { f += 0.5 * scale[i] * (x[i] - i) * (x[i] - i); g[i] = scale[i] * (x[i] - i); }
            return f;
        }
        var r = Lbfgs.Minimize(Quadratic, new double[5]);
        for (int i = 0; i < 5; i++) Assert.Equal(i, r.X[i], 1e-6);
        Assert.InRange(r.Iterations, 1, 60);
    }
}
