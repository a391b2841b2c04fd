namespace Engine.Planning;

/// <summary>
/// Nonparametric bootstrap: refit on resamples of the runs (drawn with replacement, as multiplicities so the fits take
/// weights instead of copies) and report each estimate's standard deviation across resamples as its standard error.
/// Seeded, so a rerun gives the same errors.
/// </summary>
public static class Bootstrap
{
    /// <param name="fit">Estimates from one resample's multiplicities; null when that resample cannot be fitted.</param>
    public static (double[] StandardErrors, int Used) StandardErrors(int runs, int resamples, ulong seed, Func<double[], double[]?> fit)
    {
        var rng = new Engine.Util.Rng(seed);
        var weights = new List<double[]>(resamples);
        for (int r = 0; r < resamples; r++)
        {
            var w = new double[runs];
            for (int i = 0; i < runs; i++) w[rng.NextInt(runs)]++;
            weights.Add(w);
        }
        var estimates = new double[]?[resamples];
        Parallel.For(0, resamples, r => estimates[r] = fit(weights[r]));
        var ok = estimates.Where(e => e != null && e.All(double.IsFinite)).Select(e => e!).ToList();
        if (ok.Count < 2) return (Array.Empty<double>(), ok.Count);
        int k = ok[0].Length;
        var se = new double[k];
        for (int j = 0; j < k; j++)
        {
            double mean = ok.Average(e => e[j]);
            se[j] = Math.Sqrt(ok.Sum(e => (e[j] - mean) * (e[j] - mean)) / (ok.Count - 1));
        }
        return (se, ok.Count);
    }
}
