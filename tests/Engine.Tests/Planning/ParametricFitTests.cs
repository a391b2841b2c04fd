using Engine.Planning;
using Engine.Tests.Support;

namespace Engine.Tests.Planning;

public class ParametricFitTests
{
    static IReadOnlyList<ScalingPoint> Chinchilla() => ScalingData.ReadCsv(Fixtures.Path("scaling", "chinchilla-figure4-epoch.csv"));

    [Fact]
    public void Reads_the_245_digitised_runs_with_tokens_from_six_N_D()
    {
        var points = Chinchilla();
        Assert.Equal(245, points.Count);
        Assert.All(points, p => Assert.Equal(p.Flops, 6 * p.Parameters * p.Tokens, p.Flops * 1e-12));
    }

    [Fact]
    public void Approach_3_on_the_Chinchilla_data_reproduces_Epoch_AIs_estimates_within_their_standard_errors()
    {
        var (law, _) = ParametricFit.Fit(Chinchilla());
        var epoch = ChinchillaLaw.Epoch.ToArray();
        var ours = law.ToArray();
        string[] names = { "E", "A", "B", "alpha", "beta" };
        for (int i = 0; i < 5; i++)
            Assert.True(Math.Abs(ours[i] - epoch[i]) <= ChinchillaLaw.EpochStandardErrors[i],
                $"{names[i]} = {ours[i]:G6}, Epoch AI {epoch[i]:G6} ± {ChinchillaLaw.EpochStandardErrors[i]}");
    }
}
