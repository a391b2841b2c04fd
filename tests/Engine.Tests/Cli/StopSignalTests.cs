using System.Diagnostics;
using System.Runtime.InteropServices;
using Engine.Checkpoints;
using Engine.Tests.Distributed;
using Engine.Tests.Support;
using Trainer;

namespace Engine.Tests.Cli;

/// <summary>
/// A run stopped by a signal says which in its exit code, after saving a checkpoint that resumes it: 130 for Ctrl-C
/// (SIGINT), 143 for SIGTERM (what schedulers and `kill` send), 0 only for a run that finished. The mapping as a unit,
/// and the built trainer as its own process receiving the real signal after its first step.
/// </summary>
[Collection("console")]
public class StopSignalTests
{
    [Fact]
    public void The_exit_code_says_whether_the_run_finished_and_which_signal_stopped_it()
    {
        Assert.Equal(0, ExitCodes.ForRun(interrupted: false, signal: null));
        Assert.Equal(0, ExitCodes.ForRun(interrupted: false, signal: PosixSignal.SIGTERM)); // a signal after the last step: the run finished
        Assert.Equal(130, ExitCodes.ForRun(interrupted: true, signal: PosixSignal.SIGINT));
        Assert.Equal(143, ExitCodes.ForRun(interrupted: true, signal: PosixSignal.SIGTERM));
        Assert.Equal(130, ExitCodes.ForRun(interrupted: true, signal: null)); // another rank's stop request: Ctrl-C at its terminal, most often
    }

    [Fact]
    public void Help_lists_every_exit_code()
    {
        var (exit, stdout, _) = ConsoleCapture.Run(["--help"]);
        Assert.Equal(0, exit);
        foreach (var code in new[] { "0 done", "1 an error in the input", "2 a wrong command line", "3 the run stopped itself", "4 the ranks lost each other", "70 an unexpected failure", "130 stopped by Ctrl-C", "143 by SIGTERM" })
            Assert.Contains(code, stdout.ReplaceLineEndings(" "));
    }

    [Theory]
    [InlineData(15, 143)] // SIGTERM
    [InlineData(2, 130)]  // SIGINT, as Ctrl-C sends it to the foreground process group
    public void A_signal_after_the_first_step_saves_a_checkpoint_that_resumes_and_exits_with_its_code(int signal, int expected)
    {
        using var temp = new TempFolder();
        string run = temp["run"];
        string trainer = Path.Combine(AppContext.BaseDirectory, "trainer.dll");
        string[] small = ["--objective", "clm", "--layers", "2", "--dim", "64", "--heads", "4", "--max-positions", "64", "--seq", "64", "--batch", "4",
            "--eval-every", "0", "--eval-batches", "2", "--sample-tokens", "0"];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[trainer, .. small, "--steps", "100000", "--out", run]) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string metrics = Path.Combine(run, "metrics.jsonl");
        var wait = Stopwatch.StartNew();
        while (!process.HasExited && wait.Elapsed < TimeSpan.FromMinutes(3) && !(File.Exists(metrics) && File.ReadAllLines(metrics).Any(l => l.StartsWith("{\"step\":1,"))))
            Thread.Sleep(50);
        if (process.HasExited) Assert.Fail("the run ended before its first step: " + stderr.Result); // read only then: it waits for the exit
        try
        {
            using (var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString()])) kill.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the run did not stop after the signal");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
        string output = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == expected, $"exit {process.ExitCode}, expected {expected}: {output}");
        Assert.Contains("stopping after this step and saving a checkpoint", output);
        Assert.Contains("interrupted at step", output);

        int saved = Engine.Training.TrainerState.Read(Checkpoint.Locate(run))!.Step;
        Assert.InRange(saved, 1, 99999);
        var (exit, resumed) = Mpi.RunDirect("--resume", run, "--steps", (saved + 1).ToString(), "--sample-tokens", "0");
        Assert.True(exit == 0, resumed);
        Assert.Contains($"resuming at step {saved}", resumed);
        Assert.Contains($"done at step {saved + 1}", resumed);
    }
}
