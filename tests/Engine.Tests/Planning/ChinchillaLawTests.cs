using Engine.Planning;

namespace Engine.Tests.Planning;

public class ChinchillaLawTests
{
    [Theory]
    [InlineData(1e21)]
    [InlineData(5.76e23)]
    public void The_compute_optimal_split_spends_the_budget_and_minimises_loss_along_it(double c)
    {
        var law = ChinchillaLaw.Epoch;
        var (n, d) = law.Optimal(c);
        Assert.Equal(c, 6 * n * d, c * 1e-12);
        double best = law.Loss(n, d);
        foreach (double f in new[] { 0.9, 1.1 }) Assert.True(law.Loss(n * f, c / (6 * n * f)) > best);
        Assert.Equal(d, law.OptimalTokensFor(n), d * 1e-9);
    }

    [Fact]
    public void Exponents_are_beta_and_alpha_over_their_sum()
    {
        var law = ChinchillaLaw.Epoch;
        Assert.Equal(0.3658 / (0.3478 + 0.3658), law.ParameterExponent, 1e-12);
        Assert.Equal(1.0, law.ParameterExponent + law.TokenExponent, 1e-12);
        // Epoch AI's fit puts Chinchilla's budget (5.76e23 FLOPs) at tens of tokens per parameter, as the rule of thumb says.
        var (n, d) = law.Optimal(5.76e23);
        Assert.InRange(d / n, 15, 40);
    }
}
