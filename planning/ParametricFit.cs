namespace Engine.Planning;

/// <summary>
/// Chinchilla's Approach 3 (Hoffmann et al. 2022, section 3.3 and appendix D.2): fit L(N, D) = E + A/N^α + B/D^β by
/// minimising Σ Huber_δ(LSE(a − α·log N, b − β·log D, e) − log L) over (a, b, e, α, β) with A = e^a, B = e^b,
/// E = e^e, δ = 10⁻³, by L-BFGS from a grid of starts, keeping the best. Fitting log loss with a robust loss keeps
/// the few runs far off the curve (unfinished, unstable) from pulling it.
/// </summary>
public static class ParametricFit
{
    public const double HuberDelta = 1e-3;

    /// <summary>Hoffmann et al.'s grid: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25} (4500 starts).</summary>
    public static IEnumerable<double[]> StandardGrid()
    {
        for (int ia = 0; ia <= 5; ia++)
        for (int ib = 0; ib <= 5; ib++)
        for (int ie = 0; ie <= 4; ie++)
        for (int iAlpha = 0; iAlpha <= 4; iAlpha++)
        for (int iBeta = 0; iBeta <= 4; iBeta++)
            yield return new[] { 5.0 * ia, 5.0 * ib, -1 + 0.5 * ie, 0.5 * iAlpha, 0.5 * iBeta };
    }

    /// <summary>The best fit over the standard grid of starts (in parallel; the result does not depend on the order).</summary>
    public static (ChinchillaLaw Law, double Objective) Fit(IReadOnlyList<ScalingPoint> points, IReadOnlyList<double[]>? starts = null, double[]? weights = null)
    {
        if (points.Count < 5) throw new EngineException($"a fit of 5 parameters needs at least 5 runs (got {points.Count})");
        starts ??= StandardGrid().ToList();
        var data = Prepare(points, weights);
        var results = new (double[] Theta, double Value)[starts.Count];
        Parallel.For(0, starts.Count, i =>
        {
            var r = Lbfgs.Minimize((x, g) => Evaluate(data, x, g), starts[i], maxIterations: 500);
            results[i] = (r.X, r.Value);
        });
        // Ties broken by start index so the answer is the same on any thread count.
        var best = results.Select((r, i) => (r, i)).Where(t => double.IsFinite(t.r.Value)).MinBy(t => (t.r.Value, t.i));
        return (ToLaw(best.r.Theta), best.r.Value);
    }

    /// <summary>One L-BFGS run from a known good start: what each bootstrap resample uses.</summary>
    public static (ChinchillaLaw Law, double Objective) Refit(IReadOnlyList<ScalingPoint> points, ChinchillaLaw start, double[]? weights = null)
    {
        var data = Prepare(points, weights);
        var r = Lbfgs.Minimize((x, g) => Evaluate(data, x, g), ToTheta(start), maxIterations: 1000);
        return (ToLaw(r.X), r.Value);
    }

    public static ChinchillaLaw ToLaw(double[] theta) => new(Math.Exp(theta[2]), Math.Exp(theta[0]), Math.Exp(theta[1]), theta[3], theta[4]);
    public static double[] ToTheta(ChinchillaLaw law) => new[] { Math.Log(law.A), Math.Log(law.B), Math.Log(law.E), law.Alpha, law.Beta };

    /// <summary>The objective at a law's parameters (for comparing fits).</summary>
    public static double ObjectiveAt(IReadOnlyList<ScalingPoint> points, ChinchillaLaw law) =>
        Evaluate(Prepare(points, null), ToTheta(law), new double[5]);

    sealed record Data(double[] LogN, double[] LogD, double[] LogL, double[] Weight);

    static Data Prepare(IReadOnlyList<ScalingPoint> points, double[]? weights) => new(
        points.Select(p => Math.Log(p.Parameters)).ToArray(),
        points.Select(p => Math.Log(p.Tokens)).ToArray(),
        points.Select(p => Math.Log(p.Loss)).ToArray(),
        weights ?? Enumerable.Repeat(1.0, points.Count).ToArray());

    /// <summary>θ = (a, b, e, α, β): Σ wᵢ·Huber(rᵢ) and its gradient.</summary>
    static double Evaluate(Data data, ReadOnlySpan<double> theta, Span<double> gradient)
    {
        double a = theta[0], b = theta[1], e = theta[2], alpha = theta[3], beta = theta[4];
        double total = 0;
        gradient.Clear();
        for (int i = 0; i < data.LogN.Length; i++)
        {
            double w = data.Weight[i];
            if (w == 0) continue;
            double t1 = a - alpha * data.LogN[i], t2 = b - beta * data.LogD[i], t3 = e;
            double max = Math.Max(t1, Math.Max(t2, t3));
            double e1 = Math.Exp(t1 - max), e2 = Math.Exp(t2 - max), e3 = Math.Exp(t3 - max);
            double sum = e1 + e2 + e3;
            double r = max + Math.Log(sum) - data.LogL[i];
            // Starts far out on the grid can overflow; an infinite value makes the line search step back.
            if (!double.IsFinite(r)) { gradient.Clear(); return double.PositiveInfinity; }
            double huber, slope;
            if (Math.Abs(r) <= HuberDelta) { huber = 0.5 * r * r; slope = r; }
            else { huber = HuberDelta * (Math.Abs(r) - 0.5 * HuberDelta); slope = HuberDelta * Math.Sign(r); }
            total += w * huber;
            double s1 = w * slope * e1 / sum, s2 = w * slope * e2 / sum, s3 = w * slope * e3 / sum;
            gradient[0] += s1;
            gradient[1] += s2;
            gradient[2] += s3;
            gradient[3] -= s1 * data.LogN[i];
            gradient[4] -= s2 * data.LogD[i];
        }
        return total;
    }
}
