using System.Diagnostics;
using Engine.Checkpoints;
using Engine.Precision;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A run never writes a non-finite checkpoint: at lr 10 (the issue's case) fp32 and bf16 stop before the update that
/// would apply a NaN gradient, naming the step and the tensor, and the previous checkpoint stays byte for byte; fp16
/// reports every skipped step and stops after the bound.
/// </summary>
public class NonFiniteGuardTests
{
    /// <summary>Keeps a copy of every file of the newest checkpoint as it was just written.</summary>
    sealed class CheckpointSnapshot : ITrainingObserver
    {
        public int Step { get; private set; }
        public string Path { get; private set; } = "";
        public Dictionary<string, byte[]> Files { get; private set; } = new();
        public List<string> Messages { get; } = new();
        public void OnCheckpoint(int step, string path)
        {
            (Step, Path) = (step, path);
            Files = Directory.GetFiles(path, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        }
        public void OnMessage(string message) => Messages.Add(message);
    }

    static TrainOptions DivergingRun(string outDir, PrecisionMode precision)
    {
        var options = SmallRuns.Options(outDir, 30);
        return options with
        {
            Settings = options.Settings with
            {
                LearningRate = 10, WarmupSteps = 0, CheckpointEvery = 1, Precision = precision,
                AdamW = options.Settings.AdamW with { WeightDecay = 10 },
            },
        };
    }

    [Theory]
    [InlineData(PrecisionMode.Fp32)]
    [InlineData(PrecisionMode.Bf16)]
    public void At_lr_10_the_run_halts_before_the_bad_update_and_the_last_checkpoint_stays_as_it_was(PrecisionMode precision)
    {
        using var temp = new TempFolder();
        var snapshot = new CheckpointSnapshot();
        TrainingHaltedException halt;
        using (var run = TrainingJob.Prepare(DivergingRun(temp["run"], precision)))
            halt = Assert.Throws<TrainingHaltedException>(() => run.Loop.Run(progress: snapshot));

        Assert.Equal(HaltReason.NonFinite, halt.Reason);
        Assert.True(snapshot.Step >= 1, "a checkpoint was written before the halt");
        Assert.Equal(snapshot.Step + 1, halt.Step);
        Assert.Contains($"step {halt.Step}: ", halt.Message);
        Assert.Contains("transformer.", halt.Message); // the tensor, by its HF name
        Assert.Contains($"last checkpoint (step {snapshot.Step})", halt.Message);
        // The checkpoint on disk is the one written before the halt, unchanged, and its weights are finite.
        var now = Directory.GetFiles(snapshot.Path, "*", SearchOption.AllDirectories);
        Assert.Equal(snapshot.Files.Keys.Order(), now.Order());
        foreach (var file in now) Assert.Equal(snapshot.Files[file], File.ReadAllBytes(file));
        var weights = SafeTensors.Read(Path.Combine(snapshot.Path, Checkpoint.WeightsFile));
        Assert.All(weights, tensor => Assert.All(tensor.Value.Values, v => Assert.True(double.IsFinite(v), tensor.Key)));
        // No metrics line for the step that was not applied.
        Assert.DoesNotContain(File.ReadAllLines(Path.Combine(temp["run"], "metrics.jsonl")), l => l.StartsWith($"{{\"step\":{halt.Step},"));
    }

    [Fact]
    public void Fp16_reports_every_skipped_step_and_halts_after_the_bound()
    {
        using var temp = new TempFolder();
        var options = SmallRuns.Options(temp["run"], 30);
        options = options with { Settings = options.Settings with { Precision = PrecisionMode.Fp16, InitialLossScale = 1e38f, MaxSkippedSteps = 5 } };
        var observer = new CheckpointSnapshot();
        using var run = TrainingJob.Prepare(options);
        var halt = Assert.Throws<TrainingHaltedException>(() => run.Loop.Run(progress: observer));

        Assert.Equal(HaltReason.SkippedSteps, halt.Reason);
        Assert.Equal(5, halt.Step);
        Assert.Contains("5 steps in a row", halt.Message);
        Assert.Contains($"loss scale is now {1e38f / 32:G6}", halt.Message);
        Assert.Equal(5, observer.Messages.Count);
        Assert.Equal($"step 1: gradients overflowed at loss scale {1e38f:G6}, step skipped, scale → {1e38f / 2:G6}", observer.Messages[0]);
        Assert.StartsWith("step 5: gradients overflowed", observer.Messages[4]);
    }

    [Fact]
    public void A_non_finite_weight_is_named_and_no_checkpoint_is_written_from_it()
    {
        using var temp = new TempFolder();
        using var run = TrainingJob.Prepare(SmallRuns.Options(temp["run"], 1));
        var guard = new NonFiniteGuard(run.Model, run.Loop.State.Settings);
        guard.CheckWeights(1, null);
        guard.EnsureFinite(1);

        var second = run.Model.Layout.Tensors[1];
        var values = SmallRuns.Parameters(run);
        values[second.Offset + 3] = float.PositiveInfinity;
        run.Model.CopyParametersIn(values);
        var afterUpdate = Assert.Throws<TrainingHaltedException>(() => guard.CheckWeights(7, 6));
        Assert.Equal(HaltReason.NonFinite, afterUpdate.Reason);
        Assert.Equal(7, afterUpdate.Step);
        Assert.Contains($"step 7: the update left {second.Name} holding inf or NaN", afterUpdate.Message);
        Assert.Contains("last checkpoint (step 6)", afterUpdate.Message);
        var save = Assert.Throws<TrainingHaltedException>(() => guard.EnsureFinite(7));
        Assert.Contains(second.Name, save.Message);
    }

    [Fact]
    public void The_test_hook_makes_step_k_gradient_NaN_and_the_trainer_exits_3_keeping_step_k_minus_1()
    {
        using var temp = new TempFolder();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "trainer.dll"), "--objective", "clm", "--layers", "2", "--dim", "64", "--heads", "4",
            "--max-positions", "64", "--seq", "64", "--batch", "4", "--steps", "6", "--checkpoint-every", "1", "--sample-tokens", "0", "--device", "cpu", "--out", temp["run"]])
            start.ArgumentList.Add(a);
        start.Environment[NonFiniteGuard.FaultVariable] = "3";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "the trainer finished");
        Assert.Equal(3, process.ExitCode);
        Assert.Contains("step 3: the gradient of transformer.wte.weight holds NaN", stderr);
        Assert.Contains("last checkpoint (step 2)", stderr);
        var state = TrainerState.Read(Path.Combine(temp["run"], "checkpoint"));
        Assert.Equal(2, state!.Step);
    }
}

/// <summary>Under DDP every rank sees the same global loss and Σ g², so all stop at the same step. The trainer's
/// rank 0 ends the job with MPI_Abort on its error, which may kill rank 1 before it prints its own line: the test asks
/// that every line printed names the same step, and that rank 0's checkpoint is the step before.</summary>
public class NonFiniteGuardDdpTests
{
    [Fact]
    public void Every_rank_of_a_ddp_run_that_reports_the_halt_names_the_same_step()
    {
        Engine.Tests.Distributed.Mpi.RequireMpirun();
        using var temp = new TempFolder();
        var (exit, output) = Engine.Tests.Distributed.Mpi.Run(2, Engine.Tests.Distributed.EquivalentRuns.Args("clm", temp["run"], 30,
            "--strategy", "ddp", "--device", "cpu", "--lr", "10", "--warmup", "0", "--weight-decay", "10", "--checkpoint-every", "1"));
        Assert.Equal(3, exit);
        var halts = System.Text.RegularExpressions.Regex.Matches(output, @"error: step (\d+): ").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.NotEmpty(halts);
        Assert.All(halts, step => Assert.Equal(halts[0], step));
        Assert.Equal(halts[0] - 1, TrainerState.Read(Path.Combine(temp["run"], "checkpoint"))!.Step);
    }
}
