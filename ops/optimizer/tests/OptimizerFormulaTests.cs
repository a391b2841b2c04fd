using Engine.Backends.Cpu.Ops;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>AdamW against torch's formula (decoupled decay before the update), in float64 through the same generic code
/// the float32 backend runs; global-norm clipping (Σg² and a scale) against torch's clip_grad_norm_.</summary>
public unsafe class OptimizerFormulaTests
{
    [Fact]
    public void AdamW_matches_torch_formula_and_decays_before_the_update()
    {
        double[] p = { 1.0, -2.0, 0.5 }, g = { 0.1, -0.3, 0.0 }, m = new double[3], v = new double[3];
        double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
        var expected = (double[])p.Clone(); var em = new double[3]; var ev = new double[3];
        for (int step = 1; step <= 3; step++)
        {
            fixed (double* pp = p, pg = g, pm = m, pv = v) AdamW<double>.Step(pp, pg, pm, pv, 3, lr, b1, b2, eps, wd, step);
            for (int i = 0; i < 3; i++)
            {
                expected[i] *= 1 - lr * wd;
                em[i] = b1 * em[i] + (1 - b1) * g[i];
                ev[i] = b2 * ev[i] + (1 - b2) * g[i] * g[i];
                double mHat = em[i] / (1 - Math.Pow(b1, step)), vHat = ev[i] / (1 - Math.Pow(b2, step));
                expected[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }
        }
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], p[i], 12);
    }

    [Fact]
    public void Global_norm_clipping_follows_torch()
    {
        using var backend = new Engine.Backends.Cpu.CpuBackend();
        var grads = backend.Allocate<float>(4, "test");
        backend.CopyIn<float>(new float[] { 3, 4, 0, 0 }, grads);
        double norm = Engine.Optim.GradientClipping.ClipGlobalNorm(backend, grads, 1.0);
        Assert.Equal(5.0, norm, 6);
        var after = new float[4]; backend.CopyOut(grads, after);
        Assert.Equal(3 / (5 + 1e-6), after[0], 6);
        Assert.Equal(4 / (5 + 1e-6), after[1], 6);
        backend.CopyIn<float>(new float[] { 0.3f, 0.4f, 0, 0 }, grads);
        Engine.Optim.GradientClipping.ClipGlobalNorm(backend, grads, 1.0);
        backend.CopyOut(grads, after);
        Assert.Equal(0.3f, after[0]); // below the limit: untouched
    }
}
