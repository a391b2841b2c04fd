namespace Engine.Planning;

/// <summary>
/// Chinchilla's parametric loss L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, eq. 2) and what follows from it
/// under the budget C = 6·N·D: the compute-optimal N_opt = G·(C/6)^a and D_opt = G⁻¹·(C/6)^b with
/// G = (αA/(βB))^(1/(α+β)), a = β/(α+β), b = α/(α+β) (their eq. 4).
/// </summary>
public sealed record ChinchillaLaw(double E, double A, double B, double Alpha, double Beta)
{
    /// <summary>Chinchilla's rule of thumb: about 20 training tokens per parameter.</summary>
    public const double TokensPerParameterRule = 20;

    /// <summary>Besiroglu et al. 2024 (Epoch AI), "Chinchilla Scaling: A replication attempt", refit on Figure 4's data.</summary>
    public static readonly ChinchillaLaw Epoch = new(1.8172, 482.01, 2085.43, 0.3478, 0.3658);
    /// <summary>Their published standard errors for E, A, B, α, β, in that order.</summary>
    public static readonly double[] EpochStandardErrors = { 0.03, 124.58, 1293.23, 0.02, 0.02 };
    /// <summary>Hoffmann et al. 2022's own (rounded) fit.</summary>
    public static readonly ChinchillaLaw Hoffmann = new(1.69, 406.4, 410.7, 0.34, 0.28);

    public double Loss(double parameters, double tokens) => E + A / Math.Pow(parameters, Alpha) + B / Math.Pow(tokens, Beta);

    /// <summary>Exponent of N_opt ∝ C^a.</summary>
    public double ParameterExponent => Beta / (Alpha + Beta);
    /// <summary>Exponent of D_opt ∝ C^b.</summary>
    public double TokenExponent => Alpha / (Alpha + Beta);

    double G => Math.Pow(Alpha * A / (Beta * B), 1 / (Alpha + Beta));

    /// <summary>The model size and token count that minimise the loss for a budget of C FLOPs.</summary>
    public (double Parameters, double Tokens) Optimal(double flops)
    {
        if (!(flops > 0)) throw new EngineException($"compute budget {flops} FLOPs must be positive");
        double n = G * Math.Pow(flops / 6, ParameterExponent);
        return (n, flops / (6 * n));
    }

    /// <summary>Tokens for which N parameters are compute-optimal (the inverse of <see cref="Optimal"/>).</summary>
    public double OptimalTokensFor(double parameters)
    {
        // N = G·(C/6)^a ⇒ C/6 = (N/G)^(1/a), and D = (C/6)/N.
        double sixth = Math.Pow(parameters / G, 1 / ParameterExponent);
        return sixth / parameters;
    }

    public double[] ToArray() => new[] { E, A, B, Alpha, Beta };
}
