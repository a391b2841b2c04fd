using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The mlm objective through the shared loop: it learns, and resume replays the masks exactly.</summary>
public class MlmTrainingTests
{
    static TrainOptions Options(string outDir, int steps, int evalEvery = 0) => SmallRuns.Options(outDir, steps, evalEvery) with
    {
        Objective = "mlm",
        Model = "bert-tiny",
    };

    [Fact]
    public void A_short_mlm_run_on_the_embedded_corpus_lowers_validation_loss()
    {
        using var temp = new TempFolder();
        using var run = TrainingJob.Prepare(Options(temp["run"], steps: 40, evalEvery: 20));
        Assert.Equal(Engine.Models.ModelFamily.EncoderOnly, run.Model.Config.Family);
        var summary = run.Loop.Run();
        // Predicting a masked byte from 260 ids starts near ln 260 ≈ 5.56 nats; the shorthand corpus is regular enough
        // that 40 steps must cut that clearly (the default 600-step run reaches well below 1.5).
        Assert.InRange(summary.InitialValLoss, 5.0, 6.2);
        Assert.True(summary.FinalValLoss < summary.InitialValLoss - 1.5, $"validation loss {summary.InitialValLoss:F3} → {summary.FinalValLoss:F3}");
    }

    sealed class Recorder : ITrainingObserver
    {
        public List<double> Losses { get; } = new();
        public void OnStep(StepMetrics m) => Losses.Add(m.Loss);
    }

    sealed class StopAfter(int step, CancellationTokenSource source) : ITrainingObserver
    {
        public List<double> Losses { get; } = new();
        public void OnStep(StepMetrics m) { Losses.Add(m.Loss); if (m.Step == step) source.Cancel(); }
    }

    [Fact]
    public void Resume_continues_an_mlm_run_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 6;
        var straight = new Recorder();
        using (var run = TrainingJob.Prepare(Options(temp["straight"], steps))) run.Loop.Run(default, straight);
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(3, cancel);
        using (var run = TrainingJob.Prepare(Options(temp["interrupted"], steps))) run.Loop.Run(cancel.Token, first);
        var second = new Recorder();
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = "cpu" }))
        {
            Assert.Equal("mlm", run.Loop.State.Objective);
            run.Loop.Run(default, second);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
    }

    [Fact]
    public void A_model_of_the_wrong_family_for_the_objective_is_refused_with_the_fix()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Options(temp["run"], 1) with { Model = "gpt2-tiny" }));
        Assert.Contains("--model bert-tiny", e.Message);
    }
}
