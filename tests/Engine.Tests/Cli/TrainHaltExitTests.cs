using Engine.Tests.Support;

namespace Engine.Tests.Cli;

/// <summary>The trainer on a run that halts itself: exit 3 and one error line; fp16's skipped steps on the console;
/// the new flags read and refused as flags are.</summary>
[Collection("console")]
public class TrainHaltExitTests
{
    static string[] Tiny(string outDir, params string[] more) =>
        ["--objective", "clm", "--layers", "2", "--dim", "64", "--heads", "4", "--max-positions", "64", "--seq", "64", "--batch", "4",
         "--sample-tokens", "0", "--device", "cpu", "--out", outDir, .. more];

    [Fact]
    public void A_NaN_gradient_at_lr_10_exits_3_with_the_step_and_the_tensor()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run(Tiny(temp["run"], "--steps", "30", "--lr", "10", "--warmup", "0", "--weight-decay", "10", "--checkpoint-every", "1"));
        Assert.Equal(3, code);
        Assert.Matches(@"error: step \d+: the (gradient of transformer\.\S+ holds|update left transformer\.\S+ holding|loss is)", stderr);
        Assert.Contains("--lr", stderr);
    }

    [Fact]
    public void Fp16_skips_are_printed_and_the_bound_exits_3()
    {
        using var temp = new TempFolder();
        var (code, stdout, stderr) = ConsoleCapture.Run(Tiny(temp["run"], "--steps", "10", "--precision", "fp16", "--loss-scale", "1e38", "--max-skipped-steps", "3"));
        Assert.Equal(3, code);
        Assert.Contains("step 1: gradients overflowed at loss scale 1E+38, step skipped, scale → 5E+37", stdout);
        Assert.Contains("step 3: gradients overflowed", stdout);
        Assert.Contains("fp16 skipped 3 steps in a row", stderr);
        Assert.Contains("--max-skipped-steps", stderr);
        Assert.Contains("--loss-scale", stderr);
    }

    /// <summary>At lr 0.3 with weight decay 10 this tiny run's loss leaves its band at step 25 (measured: 12.1 over a
    /// median of 5.05) and later recovers; with stop it halts there, before the update, after step 24's checkpoint.</summary>
    [Fact]
    public void Divergence_stop_halts_with_exit_3_before_the_update_and_warn_goes_on()
    {
        using var temp = new TempFolder();
        string[] diverging = ["--steps", "40", "--lr", "0.3", "--warmup", "30", "--weight-decay", "10", "--checkpoint-every", "1"];
        var (code, _, stderr) = ConsoleCapture.Run(Tiny(temp["stop"], [.. diverging, "--divergence", "stop"]));
        Assert.Equal(3, code);
        Assert.Contains("error: step 25: the loss 12.1", stderr);
        Assert.Contains("--divergence stop", stderr);
        Assert.Equal(24, Engine.Training.TrainerState.Read(Path.Combine(temp["stop"], "checkpoint"))!.Step);
        var (warned, stdout, _) = ConsoleCapture.Run(Tiny(temp["warn"], diverging));
        Assert.Equal(0, warned);
        Assert.Single(stdout.Split('\n'), l => l.StartsWith("warning: step 25: the loss 12.1"));
    }

    [Fact]
    public void The_divergence_flag_takes_warn_stop_or_off_and_refuses_other_words()
    {
        using var temp = new TempFolder();
        var (code, _, stderr) = ConsoleCapture.Run(Tiny(temp["run"], "--steps", "1", "--divergence", "maybe"));
        Assert.Equal(2, code);
        Assert.Contains("--divergence: 'maybe' is not one of warn, stop, off", stderr);
        var (bound, _, boundError) = ConsoleCapture.Run(Tiny(temp["other"], "--steps", "1", "--max-skipped-steps", "0"));
        Assert.Equal(2, bound);
        Assert.Contains("--max-skipped-steps", boundError);
        var (ok, _, _) = ConsoleCapture.Run(Tiny(temp["third"], "--steps", "2", "--divergence", "stop", "--max-skipped-steps", "40"));
        Assert.Equal(0, ok);
        Assert.Contains("\"Divergence\": \"stop\"", File.ReadAllText(Path.Combine(temp["third"], "checkpoint", "trainer_state.json")), StringComparison.OrdinalIgnoreCase);
    }
}
