using Engine.Precision;

namespace Engine.Tests.Precision;

public class DynamicLossScalerTests
{
    [Fact]
    public void Starts_at_2_to_the_16_and_doubles_after_2000_clean_steps()
    {
        var scaler = new DynamicLossScaler();
        Assert.Equal(65536f, scaler.Scale);
        for (int i = 0; i < 1999; i++) Assert.True(scaler.Update(true));
        Assert.Equal(65536f, scaler.Scale);
        Assert.True(scaler.Update(true));
        Assert.Equal(131072f, scaler.Scale);
        Assert.Equal(0, scaler.CleanSteps);
    }

    [Fact]
    public void An_overflow_skips_the_step_halves_the_scale_and_restarts_the_count()
    {
        var scaler = new DynamicLossScaler(growthInterval: 3);
        scaler.Update(true); scaler.Update(true);
        Assert.False(scaler.Update(false));
        Assert.Equal(32768f, scaler.Scale);
        Assert.Equal(1, scaler.SkippedSteps);
        scaler.Update(true); scaler.Update(true);
        Assert.Equal(32768f, scaler.Scale); // two clean steps since the overflow, not three
        scaler.Update(true);
        Assert.Equal(65536f, scaler.Scale);
    }

    [Fact]
    public void The_scale_stays_within_its_bounds_and_its_state_round_trips()
    {
        var scaler = new DynamicLossScaler(initialScale: 2f, growthInterval: 1, minScale: 1f, maxScale: 4f);
        scaler.Update(false); scaler.Update(false);
        Assert.Equal(1f, scaler.Scale);
        scaler.Update(true); scaler.Update(true); scaler.Update(true);
        Assert.Equal(4f, scaler.Scale);
        var copy = new DynamicLossScaler();
        copy.Restore(scaler.State);
        Assert.Equal(scaler.State, copy.State);
        Assert.Throws<EngineException>(() => copy.Restore((0f, 0, 0)));
    }

    [Fact]
    public void Consecutive_skips_count_the_current_run_of_overflows_and_a_clean_step_resets_them()
    {
        var scaler = new DynamicLossScaler();
        scaler.Update(false); scaler.Update(false);
        Assert.Equal(2, scaler.ConsecutiveSkips);
        scaler.Update(true);
        Assert.Equal(0, scaler.ConsecutiveSkips);
        scaler.Update(false);
        Assert.Equal(1, scaler.ConsecutiveSkips);
        Assert.Equal(3, scaler.SkippedSteps);
        // From the default 2^16 the scale reaches its floor of 1 after 16 halvings, within the default bound of 20.
        var fresh = new DynamicLossScaler();
        for (int i = 0; i < 16; i++) fresh.Update(false);
        Assert.Equal(1f, fresh.Scale);
        Assert.True(fresh.ConsecutiveSkips < new Engine.Training.TrainingSettings().MaxSkippedSteps);
    }
}
