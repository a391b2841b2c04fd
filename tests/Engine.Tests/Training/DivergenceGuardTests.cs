using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The divergence guard on synthetic loss and gradient-norm sequences: quiet on healthy curves, one report
/// per episode on a spike or an explosion.</summary>
public class DivergenceGuardTests
{
    /// <summary>Feeds (loss, norm) pairs from step 1; returns the steps that reported.</summary>
    static List<int> Reports(DivergenceGuard guard, IEnumerable<(double Loss, double Norm)> steps)
    {
        var reported = new List<int>();
        int step = 0;
        foreach (var (loss, norm) in steps)
            if (guard.Observe(++step, loss, norm) != null) reported.Add(step);
        return reported;
    }

    /// <summary>A training curve: 5.5 falling to 2 with ±15% multiplicative noise, norms 0.5..5 (seeded).</summary>
    static IEnumerable<(double, double)> HealthyCurve(int steps, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < steps; i++)
        {
            double level = 2 + 3.5 * Math.Exp(-i / 150.0);
            yield return (level * (1 + 0.3 * (random.NextDouble() - 0.5)), 0.5 + 4.5 * random.NextDouble());
        }
    }

    [Fact]
    public void A_falling_noisy_curve_of_1000_steps_is_never_reported()
    {
        for (int seed = 0; seed < 10; seed++)
            Assert.Empty(Reports(new DivergenceGuard(), HealthyCurve(1000, seed)));
    }

    [Fact]
    public void A_loss_spike_after_warmup_is_reported_once_for_its_episode_and_again_for_the_next()
    {
        var losses = Enumerable.Repeat(3.0, 100).ToArray();
        for (int i = 60; i < 70; i++) losses[i] = 50;  // one episode of 10 steps
        for (int i = 90; i < 92; i++) losses[i] = 1e5; // a second one
        var reported = Reports(new DivergenceGuard(), losses.Select(l => (l, 1.0)));
        Assert.Equal(new[] { 61, 91 }, reported);
    }

    [Fact]
    public void A_loss_flapping_around_the_ceiling_is_one_episode()
    {
        var losses = Enumerable.Repeat(3.0, 60).Concat(Enumerable.Range(0, 12).Select(i => i % 2 == 0 ? 9.0 : 3.0)).ToArray();
        Assert.Equal(new[] { 61 }, Reports(new DivergenceGuard(), losses.Select(l => (l, 1.0))));
    }

    [Fact]
    public void The_report_names_the_step_the_loss_and_its_median()
    {
        var guard = new DivergenceGuard();
        for (int step = 1; step <= 30; step++) Assert.Null(guard.Observe(step, 3.0, 1.0));
        string? found = guard.Observe(31, 7.0, 1.0);
        Assert.NotNull(found);
        Assert.Contains("step 31", found);
        Assert.Contains("loss 7", found);
        Assert.Contains("median of the last 30 steps 3", found);
    }

    [Fact]
    public void A_gradient_norm_100_times_its_median_is_reported_and_99_times_is_not()
    {
        var guard = new DivergenceGuard();
        for (int step = 1; step <= 30; step++) guard.Observe(step, 3.0, 2.0);
        Assert.Null(guard.Observe(31, 3.0, 198));
        string? found = guard.Observe(32, 3.0, 250);
        Assert.NotNull(found);
        Assert.Contains("gradient norm 250", found);
    }

    [Fact]
    public void Nothing_is_judged_during_the_warmup()
    {
        var guard = new DivergenceGuard(warmupSteps: 20);
        for (int step = 1; step <= 19; step++) Assert.Null(guard.Observe(step, step == 19 ? 1e6 : 3.0, step == 19 ? 1e6 : 1.0));
    }

    [Fact]
    public void A_loss_inside_twice_the_median_on_a_flat_curve_is_not_reported()
    {
        // Flat loss: σ is 0, the band is the median's own width (r = 1).
        var guard = new DivergenceGuard();
        for (int step = 1; step <= 50; step++) guard.Observe(step, 2.0, 1.0);
        Assert.Null(guard.Observe(51, 3.9, 1.0));
        Assert.NotNull(guard.Observe(52, 4.1, 1.0));
    }

    [Fact]
    public void Non_finite_values_do_not_poison_the_window()
    {
        var guard = new DivergenceGuard();
        for (int step = 1; step <= 30; step++) guard.Observe(step, step % 5 == 0 ? double.NaN : 3.0, step % 7 == 0 ? double.PositiveInfinity : 1.0);
        Assert.Null(guard.Observe(31, 3.1, 1.1));
        Assert.NotNull(guard.Observe(32, 30, 1.1));
    }

    [Fact]
    public void The_settings_refuse_a_bound_below_1_and_an_unknown_action()
    {
        var tooFew = Assert.Throws<EngineException>(() => new TrainingSettings { MaxSkippedSteps = 0 }.Validate());
        Assert.Contains("MaxSkippedSteps", tooFew.Message);
        var unknown = Assert.Throws<EngineException>(() => new TrainingSettings { Divergence = (DivergenceAction)7 }.Validate());
        Assert.Contains("Divergence", unknown.Message);
        new TrainingSettings().Validate();
        Assert.Equal(20, new TrainingSettings().MaxSkippedSteps);
        Assert.Equal(DivergenceAction.Warn, new TrainingSettings().Divergence);
    }
}
