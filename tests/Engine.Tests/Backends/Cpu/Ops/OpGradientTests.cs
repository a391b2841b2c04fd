using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;
using static Engine.Tests.Support.FiniteDifference;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// Every op's backward against central finite differences, in float64 through the same generic code the float32
/// backend runs. Loss = Σ w·output with random w, so dOutput = w. Sizes are small and odd on purpose.
/// Tolerance 1e-6: central differences with h = 1e-6 in float64 carry ~1e-9 truncation and rounding error per
/// element, so 1e-6 relative leaves room while still catching any wrong term (those show up at 1e-2 or worse).
/// </summary>
public unsafe class OpGradientTests
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

    [Theory]
    [InlineData(2, 5, 8, 2, true)]
    [InlineData(1, 7, 6, 3, true)]
    [InlineData(2, 4, 8, 4, false)]
    public void Attention_backward_matches_finite_differences(int B, int T, int C, int heads, bool causal)
    {
        double[] qkv = Random(rng, B * T * 3 * C), dOut = Random(rng, B * T * C);
        var y = new double[B * T * C]; var probs = new double[B * heads * T * T];
        double Loss()
        {
            fixed (double* py = y, pp = probs, pq = qkv) Attention<double>.Forward(py, pp, pq, B, T, C, heads, causal);
            return Dot(y, dOut);
        }
        Loss();
        var dqkv = new double[qkv.Length];
        fixed (double* pdq = dqkv, pd = dOut, pq = qkv, pp = probs) Attention<double>.Backward(pdq, pd, pq, pp, B, T, C, heads, causal);
        AssertClose(dqkv, Gradient(qkv, Loss), "dQkv");
    }

    [Fact]
    public void Causal_attention_ignores_the_future()
    {
        int B = 1, T = 6, C = 4, heads = 2;
        double[] qkv = Random(rng, B * T * 3 * C);
        var y1 = new double[B * T * C]; var y2 = new double[B * T * C]; var probs = new double[heads * T * T];
        fixed (double* py = y1, pp = probs, pq = qkv) Attention<double>.Forward(py, pp, pq, B, T, C, heads, true);
        for (int i = (T - 1) * 3 * C; i < T * 3 * C; i++) qkv[i] += 5; // change only the last position
        fixed (double* py = y2, pp = probs, pq = qkv) Attention<double>.Forward(py, pp, pq, B, T, C, heads, true);
        Assert.Equal(y1.AsSpan(0, (T - 1) * C).ToArray(), y2.AsSpan(0, (T - 1) * C).ToArray());
    }

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
    public void Embedding_backward_matches_finite_differences()
    {
        int B = 2, T = 3, C = 5, V = 4;
        int[] tokens = { 1, 3, 1, 0, 1, 2 }; // repeated ids: their gradients must add up
        double[] wte = Random(rng, V * C), wpe = Random(rng, T * C), dOut = Random(rng, B * T * C);
        var y = new double[B * T * C];
        double Loss() { fixed (double* py = y, pw = wte, pp = wpe) fixed (int* pt = tokens) Embedding<double>.Forward(py, pt, pw, pp, B, T, C); return Dot(y, dOut); }
        var (dwte, dwpe) = (new double[wte.Length], new double[wpe.Length]);
        fixed (double* pdw = dwte, pdp = dwpe, pd = dOut) fixed (int* pt = tokens) Embedding<double>.Backward(pdw, pdp, pd, pt, B, T, C);
        AssertClose(dwte, Gradient(wte, Loss), "dTokenTable");
        AssertClose(dwpe, Gradient(wpe, Loss), "dPositionTable");
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

    [Fact]
    public void Softmax_cross_entropy_gradient_matches_finite_differences_with_ignored_rows_and_padding()
    {
        int N = 5, V = 7, paddedV = 9;
        int[] targets = { 3, -100, 0, 6, 2 };
        double[] logits = Random(rng, N * paddedV, 3);
        int counted = targets.Count(t => t != -100);
        double Loss()
        {
            var copy = (double[])logits.Clone(); var losses = new double[N];
            fixed (double* pl = copy, ploss = losses) fixed (int* pt = targets) return CrossEntropy<double>.Forward(pl, ploss, pt, N, V, paddedV, 0) / counted;
        }
        var grad = (double[])logits.Clone(); var rowLosses = new double[N];
        double sum;
        fixed (double* pg = grad, pr = rowLosses) fixed (int* pt = targets) sum = CrossEntropy<double>.Forward(pg, pr, pt, N, V, paddedV, 1.0 / counted);
        Assert.Equal(0, rowLosses[1]);
        Assert.Equal(sum / counted, Loss(), 12);
        var numeric = Gradient(logits, Loss);
        AssertClose(grad, numeric, "dLogits");
        for (int i = V; i < paddedV; i++) Assert.Equal(0, grad[i]); // padded classes get no gradient
    }

    [Fact]
    public void Softmax_cross_entropy_rejects_a_target_outside_the_vocabulary()
    {
        double[] logits = new double[4]; double[] losses = new double[1]; int[] targets = { 4 };
        var e = Assert.Throws<EngineException>(() =>
        {
            fixed (double* pl = logits, ploss = losses) fixed (int* pt = targets) CrossEntropy<double>.Forward(pl, ploss, pt, 1, 4, 4, 1);
        });
        Assert.Contains("outside the vocabulary", e.Message);
    }

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
