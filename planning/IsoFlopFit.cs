namespace Engine.Planning;

/// <summary>One IsoFLOP profile: runs of about the same compute, the parabola through loss vs ln N, its minimum.</summary>
public sealed record IsoFlopProfile(double Budget, int Runs, double[] Parabola, double OptimalParameters, double OptimalLoss);

/// <summary>N_opt = k_N·C^a and D_opt = k_D·C^b fitted through the profiles' minima.</summary>
public sealed record IsoFlopResult(IReadOnlyList<IsoFlopProfile> Profiles, double ParameterExponent, double ParameterCoefficient, double TokenExponent, double TokenCoefficient)
{
    public (double Parameters, double Tokens) Optimal(double flops) =>
        (ParameterCoefficient * Math.Pow(flops, ParameterExponent), TokenCoefficient * Math.Pow(flops, TokenExponent));
}

/// <summary>
/// Chinchilla's Approach 2 (Hoffmann et al. 2022, section 3.2): for each compute budget fit a parabola to loss
/// against log N, take its minimum as N_opt(C), then fit power laws in C through those minima by least squares in
/// log-log space. Runs are grouped by their budget; data without a designed budget (digitised curves) is binned by
/// log₁₀ C so that runs within the bin width count as one budget.
/// </summary>
public static class IsoFlopFit
{
    /// <summary>Bin width in decades of C for data without a budget column.</summary>
    public const double DefaultBinDecades = 0.1;

    public static IReadOnlyList<IGrouping<double, int>> Group(IReadOnlyList<ScalingPoint> points, double binDecades = DefaultBinDecades)
    {
        bool designed = points.Any(p => p.Budget != p.Flops);
        return Enumerable.Range(0, points.Count)
            .GroupBy(i => designed ? points[i].Budget : Math.Pow(10, Math.Round(Math.Log10(points[i].Flops) / binDecades) * binDecades))
            .OrderBy(g => g.Key).ToList();
    }

    /// <param name="weights">Multiplicities per run (a bootstrap resample); null = each run once.</param>
    public static IsoFlopResult Fit(IReadOnlyList<ScalingPoint> points, double[]? weights = null, double binDecades = DefaultBinDecades)
    {
        var profiles = new List<IsoFlopProfile>();
        foreach (var group in Group(points, binDecades))
        {
            var members = group.Where(i => weights == null || weights[i] > 0).ToArray();
            if (members.Select(i => points[i].Parameters).Distinct().Count() < 3) continue;
            var x = members.Select(i => Math.Log(points[i].Parameters)).ToArray();
            var y = members.Select(i => points[i].Loss).ToArray();
            var w = members.Select(i => weights?[i] ?? 1.0).ToArray();
            var p = LeastSquares.Polynomial(x, y, w, degree: 2);
            // A parabola opening downwards, or a minimum outside the sizes tried, is not a measured optimum.
            if (!(p[2] > 0)) continue;
            double xMin = -p[1] / (2 * p[2]);
            if (xMin < x.Min() || xMin > x.Max()) continue;
            profiles.Add(new IsoFlopProfile(group.Key, members.Length, p, Math.Exp(xMin), p[0] + p[1] * xMin + p[2] * xMin * xMin));
        }
        if (profiles.Count < 2)
            throw new EngineException($"Approach 2 needs at least 2 IsoFLOP profiles with a minimum inside the sizes tried (found {profiles.Count}): train at least 3 sizes per budget, spanning the optimum, for 2 or more budgets");
        var logC = profiles.Select(p => Math.Log(p.Budget)).ToArray();
        var ones = Enumerable.Repeat(1.0, profiles.Count).ToArray();
        var nLine = LeastSquares.Polynomial(logC, profiles.Select(p => Math.Log(p.OptimalParameters)).ToArray(), ones, 1);
        var dLine = LeastSquares.Polynomial(logC, profiles.Select(p => Math.Log(p.Budget / (6 * p.OptimalParameters))).ToArray(), ones, 1);
        return new IsoFlopResult(profiles, nLine[1], Math.Exp(nLine[0]), dLine[1], Math.Exp(dLine[0]));
    }
}

/// <summary>Weighted least-squares polynomials by the normal equations (degree ≤ 2, well-conditioned after centring).</summary>
public static class LeastSquares
{
    /// <summary>Coefficients c₀…c_degree of y ≈ Σ cₖ·xᵏ minimising Σ wᵢ(yᵢ − ŷᵢ)².</summary>
    public static double[] Polynomial(double[] x, double[] y, double[] w, int degree)
    {
        if (degree is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(degree), "degrees 0 to 2 only");
        int m = degree + 1;
        // Centre x first: ln N ≈ 20 makes the raw x⁴ sums lose digits.
        double centre = x.Zip(w).Sum(t => t.First * t.Second) / w.Sum();
        var matrix = new double[m, m + 1];
        for (int i = 0; i < x.Length; i++)
        {
            double u = x[i] - centre;
            for (int r = 0; r < m; r++)
            {
                for (int c = 0; c < m; c++) matrix[r, c] += w[i] * Math.Pow(u, r + c);
                matrix[r, m] += w[i] * Math.Pow(u, r) * y[i];
            }
        }
        var centred = Solve(matrix, m);
        // Expand Σ qₖ(x − c)ᵏ back into powers of x.
        var result = new double[m];
        for (int k = 0; k < m; k++)
            for (int j = 0; j <= k; j++)
                result[j] += centred[k] * Binomial(k, j) * Math.Pow(-centre, k - j);
        return result;
    }

    static double Binomial(int n, int k) => k == 0 || k == n ? 1 : n; // enough for degree ≤ 2

    static double[] Solve(double[,] a, int m)
    {
        for (int col = 0; col < m; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < m; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (Math.Abs(a[pivot, col]) < 1e-300) throw new EngineException("a least-squares fit is singular: the runs need distinct sizes and budgets");
            for (int c = 0; c <= m; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
            for (int r = 0; r < m; r++)
            {
                if (r == col) continue;
                double f = a[r, col] / a[col, col];
                for (int c = col; c <= m; c++) a[r, c] -= f * a[col, c];
            }
        }
        var x = new double[m];
        for (int r = 0; r < m; r++) x[r] = a[r, m] / a[r, r];
        return x;
    }
}
