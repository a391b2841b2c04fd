namespace Engine.Planning;

/// <summary>Compute-optimal sizes at one budget from both approaches.</summary>
public sealed record BudgetAllocation(double Flops, double Parameters, double Tokens, double TokensPerParameter, double Loss,
    double? IsoFlopParameters, double? IsoFlopTokens);

/// <summary>Everything `trainer scaling fit` reports.</summary>
public sealed record ScalingReport(
    int Runs,
    ChinchillaLaw Law,
    double Objective,
    /// <summary>Standard errors of E, A, B, α, β, a, b (bootstrap), empty when no resamples were asked for.</summary>
    double[] LawErrors,
    int Resamples,
    IsoFlopResult? IsoFlop,
    string? IsoFlopNote,
    /// <summary>Standard errors of Approach 2's a and b.</summary>
    double[] IsoFlopErrors,
    IReadOnlyList<BudgetAllocation> Budgets);

/// <summary>Approach 3 with bootstrap errors, Approach 2 where the data allow it, and allocations at chosen budgets.</summary>
public static class ScalingAnalysis
{
    public static readonly double[] DefaultBudgets = { 1e21, 5.76e23, 1e25 };

    public static ScalingReport Run(IReadOnlyList<ScalingPoint> points, int resamples = 200, ulong seed = 1, IReadOnlyList<double>? budgets = null,
        IReadOnlyList<double[]>? starts = null)
    {
        var (law, objective) = ParametricFit.Fit(points, starts);
        double[] lawErrors = Array.Empty<double>();
        int used = 0;
        if (resamples > 0)
        {
            // Each resample starts from the full-data optimum: the grid search already found the basin, and
            // restarting 4500 times per resample would only cost time.
            (lawErrors, used) = Bootstrap.StandardErrors(points.Count, resamples, seed, w =>
            {
                var l = ParametricFit.Refit(points, law, w).Law;
                return new[] { l.E, l.A, l.B, l.Alpha, l.Beta, l.ParameterExponent, l.TokenExponent };
            });
        }
        IsoFlopResult? iso = null;
        string? note = null;
        double[] isoErrors = Array.Empty<double>();
        try
        {
            iso = IsoFlopFit.Fit(points);
            if (resamples > 0)
                isoErrors = Bootstrap.StandardErrors(points.Count, resamples, seed + 1, w =>
                {
                    try { var r = IsoFlopFit.Fit(points, w); return new[] { r.ParameterExponent, r.TokenExponent }; }
                    catch (EngineException) { return null; }
                }).StandardErrors;
        }
        catch (EngineException e) { note = e.Message; }
        var allocations = (budgets ?? DefaultBudgets).Select(c =>
        {
            var (n, d) = law.Optimal(c);
            (double N, double D)? isoOpt = iso?.Optimal(c);
            return new BudgetAllocation(c, n, d, d / n, law.Loss(n, d), isoOpt?.N, isoOpt?.D);
        }).ToList();
        return new ScalingReport(points.Count, law, objective, lawErrors, used, iso, note, isoErrors, allocations);
    }
}
