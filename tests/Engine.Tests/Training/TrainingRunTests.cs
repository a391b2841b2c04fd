using Trainer.Cli;
using Engine.Backends;
using System.Text.Json.Nodes;
using Engine.Checkpoints;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

public class TrainingRunTests
{
    [Fact]
    public void A_short_run_on_the_embedded_corpus_lowers_validation_loss_and_fills_the_run_folder()
    {
        using var temp = new TempFolder();
        using var run = TrainingJob.Prepare(SmallRuns.Options(temp["run"], steps: 40, evalEvery: 20));
        var summary = run.Loop.Run();
        // A byte-level model starts near ln(257) ≈ 5.55 nats; 40 steps of the shorthand corpus must cut that clearly.
        Assert.InRange(summary.InitialValLoss, 5.0, 6.0);
        Assert.True(summary.FinalValLoss < summary.InitialValLoss - 1.5, $"validation loss {summary.InitialValLoss:F3} → {summary.FinalValLoss:F3}");
        Assert.Equal(40, summary.Steps);
        Assert.Equal(40L * 8 * 64, summary.Tokens);

        var lines = File.ReadAllLines(run.Folder.MetricsPath).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var steps = lines.Where(l => l.ContainsKey("loss")).ToList();
        Assert.Equal(40, steps.Count);
        foreach (var key in new[] { "step", "loss", "lr", "grad_norm", "tokens_per_s" }) Assert.True(steps[0].ContainsKey(key), key);
        Assert.Equal(3, lines.Count(l => l.ContainsKey("val_loss"))); // before training, step 20, step 40

        var s = JsonNode.Parse(File.ReadAllText(run.Folder.SummaryPath))!.AsObject();
        foreach (var key in new[] { "initial_val_loss", "final_val_loss", "final_train_loss", "steps", "tokens", "tokens_per_s", "wall_s", "peak_memory_bytes" })
            Assert.True(s.ContainsKey(key), key);
        // The engine leaves the numbers; the trainer draws loss.png from them after the run.
        Trainer.Plots.LossPlot.Write(run.Folder);
        Assert.True(new FileInfo(run.Folder.PlotPath).Length > 1000);
        Assert.True(File.Exists(Path.Combine(run.Folder.CheckpointPath, Checkpoint.WeightsFile)));
        Assert.False(Directory.Exists(run.Folder.CheckpointPath + ".tmp"));
    }

    [Fact]
    public void Resume_continues_the_same_run_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 12;
        var straight = new Recorder();
        float[] straightParameters;
        using (var run = TrainingJob.Prepare(SmallRuns.Options(temp["straight"], steps)))
        {
            run.Loop.Run(default, straight);
            straightParameters = new float[run.Model.ParameterCount];
            run.Backend.CopyOut(run.Model.Memory.Parameters, straightParameters);
        }

        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(5, cancel);
        using (var run = TrainingJob.Prepare(SmallRuns.Options(temp["interrupted"], steps)))
        {
            var summary = run.Loop.Run(cancel.Token, first);
            Assert.True(summary.Interrupted);
            Assert.Equal(5, summary.Steps);
        }
        var second = new Recorder();
        float[] resumedParameters;
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
        {
            Assert.True(run.Resumed);
            run.Loop.Run(default, second);
            resumedParameters = new float[run.Model.ParameterCount];
            run.Backend.CopyOut(run.Model.Memory.Parameters, resumedParameters);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
        Assert.Equal(straightParameters, resumedParameters);
    }

    [Fact]
    public void A_new_run_refuses_a_folder_that_already_holds_one()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(SmallRuns.Options(temp["run"], steps: 1))) run.Loop.Run();
        var before = File.ReadAllBytes(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile));
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(SmallRuns.Options(temp["run"], steps: 1)));
        Assert.Equal(EngineOption.Out, e.Option);
        Assert.Contains("continue it with Resume", e.Message);
        Assert.Contains("continue it with --resume", FlagNames.Render(e));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile)));
    }

    [Fact]
    public void Gradient_accumulation_equals_one_big_batch()
    {
        using var temp = new TempFolder();
        var whole = SmallRuns.Options(temp["whole"], steps: 3);
        var split = whole with { Out = temp["split"], Settings = whole.Settings with { MicroBatch = 2 } };
        var a = new Recorder(); var b = new Recorder();
        using (var run = TrainingJob.Prepare(whole with { Settings = whole.Settings with { MicroBatch = 8 } })) run.Loop.Run(default, a);
        using (var run = TrainingJob.Prepare(split)) run.Loop.Run(default, b);
        for (int i = 0; i < 3; i++)
            Assert.True(Math.Abs(a.Losses[i] - b.Losses[i]) < 1e-5 * a.Losses[i], $"step {i + 1}: {a.Losses[i]} vs {b.Losses[i]}");
    }

    [Fact]
    public void Without_data_or_embedded_text_the_run_asks_for_a_prepared_folder()
    {
        // The engine ships no text of its own: the trainer hands it the demo corpus (TrainOptions.EmbeddedText).
        using var temp = new TempFolder();
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(SmallRuns.Options(temp["run"], steps: 1) with { EmbeddedText = null }));
        Assert.Contains("trainer prepare", e.Message);
        Assert.False(Directory.Exists(temp["run"]));
    }
}
