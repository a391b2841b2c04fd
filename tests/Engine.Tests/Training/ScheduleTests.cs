using Trainer.Cli;
using Engine.Training;

namespace Engine.Tests.Training;

public class ScheduleTests
{
    static readonly TrainingSettings Settings = new() { Steps = 100, WarmupSteps = 10, LearningRate = 1e-3f, MinLearningRateRatio = 0.1f };

    [Fact]
    public void Warmup_rises_linearly_then_cosine_decays_to_the_floor()
    {
        Assert.Equal(1e-4f, LearningRateSchedule.At(0, Settings), 6);
        Assert.Equal(1e-3f, LearningRateSchedule.At(9, Settings), 6);
        Assert.Equal(1e-3f, LearningRateSchedule.At(10, Settings), 6);
        Assert.Equal(1e-4f, LearningRateSchedule.At(99, Settings), 6);
        float mid = LearningRateSchedule.At(10 + 89 / 2, Settings);
        Assert.InRange(mid, 5.4e-4f, 5.6e-4f); // halfway down the cosine: floor + (peak − floor)/2
        for (int s = 10; s < 99; s++) Assert.True(LearningRateSchedule.At(s + 1, Settings) <= LearningRateSchedule.At(s, Settings));
    }

    [Theory]
    [InlineData(0, 16, 16, 128, EngineOption.Steps, "--steps")]
    [InlineData(10, 0, 16, 128, EngineOption.GlobalBatch, "--batch")]
    [InlineData(10, 16, 0, 128, EngineOption.MicroBatch, "--micro-batch")]
    [InlineData(10, 16, 5, 128, EngineOption.MicroBatch, "--micro-batch")]
    [InlineData(10, 16, 16, -1, EngineOption.SequenceLength, "--seq")]
    public void Bad_settings_name_the_option(int steps, int batch, int micro, int seq, EngineOption option, string flag)
    {
        var s = new TrainingSettings { Steps = steps, GlobalBatch = batch, MicroBatch = micro, SequenceLength = seq };
        var e = Assert.Throws<EngineException>(() => s.Validate());
        Assert.Equal(option, e.Option);
        Assert.Contains(flag, FlagNames.Render(e));
    }
}
