using Engine.Training;
using Trainer.Cli;

namespace Engine.Tests.Cli;

/// <summary>
/// The engine names options by typed key (<see cref="EngineOption"/>); the trainer turns them into its flags. Every
/// key needs a flag, messages keep their text around the keys, and the user's final message names the flag.
/// </summary>
[Collection("console")]
public class EngineOptionTests
{
    [Fact]
    public void Every_engine_option_has_a_flag()
    {
        foreach (var option in Enum.GetValues<EngineOption>())
            Assert.Matches("^--[a-z][a-z0-9-]*$", FlagNames.Of(option));
    }

    [Fact]
    public void A_message_keeps_its_text_and_names_options_by_key_or_by_flag()
    {
        int batch = 17, micro = 4;
        var e = new EngineException(EngineOption.GlobalBatch, $"{EngineOption.GlobalBatch} {batch} is not a multiple of {EngineOption.MicroBatch} {micro} ({0.5:F2})");
        Assert.Equal(EngineOption.GlobalBatch, e.Option);
        Assert.Equal(new[] { EngineOption.GlobalBatch, EngineOption.MicroBatch }, e.Text!.Options);
        Assert.Equal("GlobalBatch 17 is not a multiple of MicroBatch 4 (0.50)", e.Message);
        Assert.Equal("--batch 17 is not a multiple of --micro-batch 4 (0.50)", FlagNames.Render(e));
    }

    [Fact]
    public void A_plain_engine_error_reads_the_same_everywhere()
    {
        var e = new EngineException("checkpoint x: no such folder");
        Assert.Null(e.Option);
        Assert.Equal(e.Message, FlagNames.Render(e));
    }

    [Fact]
    public void An_engine_error_reaches_the_user_with_the_flag_to_change()
    {
        // The engine refuses the settings (TrainingSettings.Validate) with typed keys; the trainer's message names flags.
        using var temp = new Support.TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run("--batch", "6", "--micro-batch", "4", "--steps", "1", "--out", temp["run"]);
        Assert.Equal(1, code);
        Assert.Contains("--batch 6 is not a multiple of --micro-batch 4", stderr);
        Assert.Contains("(e.g. --micro-batch 3)", stderr);
        Assert.DoesNotContain("MicroBatch", stderr);
    }

    [Fact]
    public void A_run_folder_in_use_is_refused_with_the_resume_flag()
    {
        using var temp = new Support.TempFolder();
        string[] args = { "--layers", "1", "--dim", "32", "--heads", "2", "--seq", "32", "--batch", "2", "--steps", "1", "--eval-batches", "1",
            "--sample-tokens", "0", "--device", "cpu", "--out", temp["run"] };
        var (code, _, stderr) = ConsoleCapture.Run(args);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = ConsoleCapture.Run(args);
        Assert.Equal(1, code);
        Assert.Contains($"--out {temp["run"]} already holds a run: continue it with --resume {temp["run"]}, or choose a new --out", stderr);
    }

    [Fact]
    public void The_engines_own_names_follow_the_option_records()
    {
        var e = Assert.Throws<EngineException>(() => new TrainingSettings { Steps = 0 }.Validate());
        Assert.Equal(EngineOption.Steps, e.Option);
        Assert.StartsWith(nameof(TrainingSettings.Steps) + " must be positive", e.Message);
    }
}
