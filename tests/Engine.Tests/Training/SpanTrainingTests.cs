using Trainer.Cli;
using Engine.Objectives;
using Engine.Backends;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The span objective through the shared loop: the default run shortened learns, and resume replays exactly.</summary>
public class SpanTrainingTests
{
    /// <summary>The default `--objective span` run (t5-tiny, 8 × 128 inputs, 29 targets) cut to 60 steps.</summary>
    static TrainOptions DefaultRun(string outDir, int steps, int evalEvery) => new()
    {
        Objective = TrainingObjective.Span,
        Device = DeviceKind.Cpu,
        Out = outDir,
        EmbeddedText = Trainer.EmbeddedCorpus.Text,
        Settings = new TrainingSettings { Steps = steps, GlobalBatch = 8, MicroBatch = 8, EvalEvery = evalEvery, EvalBatches = 4 },
    };

    [Fact]
    public void A_shortened_default_span_run_lowers_validation_loss()
    {
        using var temp = new TempFolder();
        using var run = TrainingJob.Prepare(DefaultRun(temp["run"], steps: 60, evalEvery: 0));
        Assert.Equal(Engine.Models.ModelFamily.EncoderDecoder, run.Model.Config.Family);
        Assert.Equal(359, run.Model.Config.VocabSize);
        var summary = run.Loop.Run();
        // T5's initialisation (word table and head N(0, 1)) makes the first logits large, so training starts far above
        // ln 359 ≈ 5.9 nats (about 33); 60 steps must bring it well below a uniform guess (the default 700-step run ends ≈ 2.2).
        Assert.True(summary.InitialValLoss > 10, $"initial validation loss {summary.InitialValLoss:F3}");
        Assert.True(summary.FinalValLoss < 3.5, $"validation loss {summary.InitialValLoss:F3} → {summary.FinalValLoss:F3}");
    }

    static TrainOptions Small(string outDir, int steps) => SmallRuns.Options(outDir, steps) with { Objective = TrainingObjective.Span, Model = "t5-tiny" };

    [Fact]
    public void Resume_continues_a_span_run_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 6;
        var straight = new Recorder();
        using (var run = TrainingJob.Prepare(Small(temp["straight"], steps))) run.Loop.Run(default, straight);
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(3, cancel);
        using (var run = TrainingJob.Prepare(Small(temp["interrupted"], steps))) run.Loop.Run(cancel.Token, first);
        var second = new Recorder();
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
        {
            Assert.Equal(TrainingObjective.Span, run.Loop.State.Objective);
            run.Loop.Run(default, second);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
    }

    [Fact]
    public void A_model_of_the_wrong_family_for_span_is_refused_with_the_fix()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Small(temp["run"], 1) with { Model = "gpt2-tiny" }));
        Assert.Equal(EngineOption.Model, e.Option);
        Assert.Contains("Model t5-tiny", e.Message);
        Assert.Contains("--model t5-tiny", FlagNames.Render(e));
    }
}
