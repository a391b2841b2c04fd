using Engine.Tests.Support;
using Engine.Training;
using Trainer.Cli;

namespace Engine.Tests.Cli;

/// <summary>One finished 4-step run that every refusal below must leave byte for byte as it was.</summary>
public sealed class FinishedRun : IDisposable
{
    public static readonly string[] Shape = ["--layers", "1", "--dim", "32", "--heads", "2", "--seq", "32", "--batch", "4", "--eval-batches", "1", "--sample-tokens", "0", "--device", "cpu"];
    readonly TempFolder temp = new();
    public string Folder => temp["run"];

    public FinishedRun()
    {
        var (code, _, stderr) = ConsoleCapture.Run([.. Shape, "--steps", "4", "--out", Folder]);
        if (code != 0) throw new InvalidOperationException(stderr);
    }

    /// <summary>Every file of the run folder with its bytes' hash.</summary>
    public Dictionary<string, string> Snapshot() =>
        Directory.GetFiles(Folder, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    public void Dispose() => temp.Dispose();
}

/// <summary>
/// `trainer --resume RUN` with flags: the 14 the issue tried (12 contradict the checkpoint and are refused with its
/// values; --micro-batch and --checkpoint-every may change and are honoured and echoed), several conflicts in one
/// error, the same values accepted, and a finished run refused without touching its summary.
/// </summary>
[Collection("console")]
public class ResumeCommandLineTests(FinishedRun finished) : IClassFixture<FinishedRun>
{
    public static TheoryData<string, string, string> Contradictions() => new()
    {
        { "--dim", "64", "32" },
        { "--layers", "2", "1" },
        { "--heads", "4", "2" },
        { "--lr", "0.1", "0.003" },
        { "--batch", "8", "4" },
        { "--seq", "64", "32" },
        { "--model", "gpt2-small", "1 layers, width 32, 2 heads, feed-forward 128, 256 positions" },
        { "--objective", "mlm", "clm" },
        { "--precision", "bf16", "fp32" },
        { "--seed", "3", "1337" },
        { "--data", "/no/such/web", "the embedded text" },
        { "--clip", "0.5", "1" },
    };

    [Theory]
    [MemberData(nameof(Contradictions))]
    public void A_flag_that_contradicts_the_checkpoint_is_refused_with_its_value(string flag, string value, string checkpointed)
    {
        var before = finished.Snapshot();
        var (code, stdout, stderr) = ConsoleCapture.Run("--resume", finished.Folder, "--steps", "8", flag, value);
        Assert.Equal(1, code);
        Assert.Equal($"error: --resume {finished.Folder}: this option contradicts the checkpoint (step 4): {flag} {value} (checkpoint: {checkpointed}); " +
            "leave it out to continue the run, or start a new run with --out", stderr.Trim());
        Assert.Empty(stdout);
        Assert.Equal(before, finished.Snapshot());
    }

    [Fact]
    public void Several_contradictions_are_listed_in_one_error()
    {
        var (code, _, stderr) = ConsoleCapture.Run("--resume", finished.Folder, "--dim", "256", "--lr", "0.1", "--precision", "fp16", "--steps", "8");
        Assert.Equal(1, code);
        Assert.Contains("these options contradict the checkpoint (step 4): --dim 256 (checkpoint: 32), --precision fp16 (checkpoint: fp32), --lr 0.1 (checkpoint: 0.003); leave them out", stderr);
    }

    [Fact]
    public void A_finished_run_is_refused_and_its_summary_kept()
    {
        var before = finished.Snapshot();
        var (code, _, stderr) = ConsoleCapture.Run("--resume", finished.Folder);
        Assert.Equal(1, code);
        Assert.Equal($"error: --resume {finished.Folder}: the run finished at step 4 of 4: give --steps N above 4 to extend it", stderr.Trim());
        Assert.Equal(before, finished.Snapshot());
        Assert.DoesNotContain("NaN", File.ReadAllText(Path.Combine(finished.Folder, "summary.json")));
    }

    [Fact]
    public void Flags_that_may_change_are_honoured_and_echoed_and_the_same_values_are_no_conflict()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run([.. FinishedRun.Shape, "--steps", "3", "--out", temp["run"]]);
        Assert.True(code == 0, stderr);

        // The run's own values given again (the command line that started it): no conflict, nothing to echo.
        (code, var stdout, stderr) = ConsoleCapture.Run([.. FinishedRun.Shape, "--steps", "5", "--resume", temp["run"], "--lr", "0.003", "--seed", "1337", "--objective", "clm", "--precision", "fp32", "--model", "gpt2-tiny"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("resuming at step 3 with --steps 5 (was 3)\n", stdout.ReplaceLineEndings("\n"));
        Assert.Contains("done at step 5", stdout);

        (code, stdout, stderr) = ConsoleCapture.Run("--resume", temp["run"], "--steps", "8", "--micro-batch", "2", "--checkpoint-every", "2");
        Assert.True(code == 0, stderr);
        Assert.Contains("resuming at step 5 with --steps 8 (was 5), --checkpoint-every 2 (was 0), --micro-batch 2 (was 4); validation now scores up to 2 sequences (was 4)", stdout);
        Assert.Contains("batch 4 × 32 tokens (2 micro-batch(es) of 2 per rank); 8 steps", stdout);
        Assert.Contains("done at step 8", stdout);
        var state = TrainerState.Read(Path.Combine(temp["run"], "checkpoint"))!;
        Assert.Equal((8, 8, 2, 2), (state.Step, state.Settings.Steps, state.Settings.CheckpointEvery, state.Settings.MicroBatch));
        Assert.Equal(Enumerable.Range(1, 8), File.ReadAllLines(Path.Combine(temp["run"], "metrics.jsonl"))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Where(e => e.TryGetProperty("step", out _) && e.TryGetProperty("loss", out _))
            .Select(e => e.GetProperty("step").GetInt32()));
    }

    [Fact]
    public void Every_train_flag_is_fixed_by_the_checkpoint_or_may_change()
    {
        var trainerOnly = new[] { "--sample-tokens" }; // printing after the run: no engine option, free on resume
        foreach (var option in Trainer.Commands.TrainCommand.Create().Options.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal) && o.Name != "--help"))
        {
            if (FlagNames.KeyOf(option.Name) is not { } key) { Assert.Contains(option.Name, trainerOnly); continue; }
            Assert.True(ResumeConflicts.Fixed.Contains(key) || ResumeConflicts.MayChange.Contains(key),
                $"{option.Name} is neither fixed by a checkpoint nor free on resume: classify it in ResumeConflicts");
        }
    }

    [Fact]
    public void Help_says_which_flags_may_change_on_resume()
    {
        var (code, stdout, _) = ConsoleCapture.Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("With --resume, these flags may differ from the run's: --steps, --checkpoint-every, --eval-every, --eval-batches, --eval-data, --micro-batch, --device, --strategy", stdout.ReplaceLineEndings(" "));
        Assert.Contains("Every other flag must hold the checkpoint's value or be left out", stdout.ReplaceLineEndings(" "));
    }
}
