using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Optim;
using Engine.Planning;
using Engine.Precision;
using Engine.Tests.Support;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Optim;

/// <summary>8-bit AdamW in training runs: it learns like fp32 AdamW, resumes bit for bit, refuses a checkpoint of the
/// other optimizer, and allocates what the plan says.</summary>
public class AdamW8BitTrainingTests
{
    static TrainOptions EightBit(string folder, int steps, int evalEvery = 0)
    {
        var o = SmallRuns.Options(folder, steps, evalEvery);
        return o with { Settings = o.Settings with { AdamW = o.Settings.AdamW with { Optimizer = OptimizerKind.AdamW8Bit } } };
    }

    /// <summary>40 steps: the 8-bit run's validation loss falls as far as the fp32 run's, within 5% of the drop
    /// (the moments differ by the quantization error only, so the runs stay close early in training).</summary>
    [Fact]
    public void It_learns_like_fp32_AdamW()
    {
        using var temp = new TempFolder();
        TrainingSummary Train(TrainOptions o) { using var run = TrainingJob.Prepare(o); return run.Loop.Run(); }
        var fp32 = Train(SmallRuns.Options(temp["fp32"], 40, evalEvery: 40));
        var eight = Train(EightBit(temp["8bit"], 40, evalEvery: 40));
        double drop32 = fp32.InitialValLoss - fp32.FinalValLoss, drop8 = eight.InitialValLoss - eight.FinalValLoss;
        Assert.True(drop32 > 0.5, $"fp32 AdamW's loss fell by {drop32} only");
        Assert.True(Math.Abs(drop8 - drop32) <= 0.05 * drop32, $"8-bit loss fell by {drop8}, fp32 by {drop32}");
    }

    [Fact]
    public void Resume_continues_the_same_run_bit_for_bit()
    {
        using var temp = new TempFolder();
        const int steps = 10;
        var straight = new Recorder();
        float[] expected;
        using (var run = TrainingJob.Prepare(EightBit(temp["straight"], steps)))
        {
            run.Loop.Run(default, straight);
            expected = SmallRuns.Parameters(run);
        }
        using var cancel = new CancellationTokenSource();
        var first = new StopAfter(4, cancel);
        using (var run = TrainingJob.Prepare(EightBit(temp["interrupted"], steps)))
            Assert.True(run.Loop.Run(cancel.Token, first).Interrupted);
        var tensors = SafeTensors.Read(Path.Combine(temp["interrupted"], "checkpoint", Checkpoint.OptimizerFile));
        Assert.True(EightBitCheckpoint.Holds(tensors));
        Assert.False(tensors.ContainsKey("adamw.first_moment"));
        var second = new Recorder();
        float[] resumed;
        using (var run = TrainingJob.Prepare(new TrainOptions { Resume = temp["interrupted"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text }))
        {
            Assert.Equal(OptimizerKind.AdamW8Bit, run.Loop.State.Settings.AdamW.Optimizer); // the checkpoint's, without the flag
            run.Loop.Run(default, second);
            resumed = SmallRuns.Parameters(run);
        }
        Assert.Equal(straight.Losses, first.Losses.Concat(second.Losses));
        Assert.Equal(expected, resumed);
    }

    /// <summary>Converting moments would make the resumed run another run: an explicit other optimizer is refused
    /// before anything is written, naming the flag; a checkpoint's file of the other kind is refused too.</summary>
    [Fact]
    public void Resuming_with_the_other_optimizer_is_refused()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(EightBit(temp["run"], 2))) run.Loop.Run();
        var checkpoint = Path.Combine(temp["run"], "checkpoint");
        var before = Directory.GetFiles(checkpoint).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(new TrainOptions
        {
            Resume = temp["run"], Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text, Given = new HashSet<EngineOption> { EngineOption.Optimizer },
        }));
        Assert.Equal(EngineOption.Optimizer, e.Option);
        Assert.Contains("Optimizer adamw (checkpoint: adamw8bit)", e.Message);
        Assert.Equal(before, Directory.GetFiles(checkpoint).ToDictionary(f => f, File.GetLastWriteTimeUtc));

        // The optimizer file itself: an fp32 optimizer refuses 8-bit moments.
        using var backend = new CpuBackend();
        var model = new TransformerModel(Checkpoint.ReadModelConfig(checkpoint), backend);
        var fp32 = model.CreateOptimizer(new AdamWSettings());
        e = Assert.Throws<EngineException>(() => Checkpoint.LoadOptimizer(checkpoint, fp32, model, 2));
        Assert.Equal(EngineOption.Optimizer, e.Option);
        Assert.Contains("holds 8-bit AdamW moments", e.Message);
    }

    /// <summary>The plan counts 8-bit AdamW's state from the model's tensors: to the byte what training allocates.</summary>
    [Fact]
    public void The_plan_counts_the_8bit_state_training_allocates()
    {
        using var temp = new TempFolder();
        var options = EightBit(temp["run"], 2);
        using var run = TrainingJob.Prepare(options);
        run.Loop.Run();
        var measured = ((CpuBackend)run.Backend).BytesByPurpose();
        var s = options.Settings;
        var planned = PlannedModel.FromConfig("run", run.Model.Config);
        var plan = MemoryPlan.Compute(planned, PrecisionMode.Fp32, ParallelSetup.Single, s.MicroBatch, s.SequenceLength, OptimizerKind.AdamW8Bit);
        long state = measured.Where(kv => kv.Key.StartsWith("AdamW", StringComparison.Ordinal)).Sum(kv => kv.Value);
        Assert.Equal(plan.Optimizer, state);
        var fp32 = MemoryPlan.Compute(planned, PrecisionMode.Fp32, ParallelSetup.Single, s.MicroBatch, s.SequenceLength);
        Assert.Equal(8.0 * run.Model.ParameterCount, fp32.Optimizer);
        Assert.InRange(plan.Optimizer / run.Model.ParameterCount, 2.0, 3.0); // small tensors and absmax on top of 2 B
        Assert.Equal(plan.Total, run.Backend.PeakAllocatedBytes, plan.Total * 0.1);
    }
}

/// <summary>
/// 8-bit AdamW under FSDP: each rank quantizes its own pieces of the tensors (blocks on each tensor's 2048-grid, split
/// where a shard boundary cuts a cell), so the run is not bit-equal to one process; what holds: it trains, its
/// checkpoint (gathered into the flat layout) resumes on the same world size bit for bit.
/// </summary>
public class AdamW8BitFsdpTests
{
    [Fact]
    public void A_sharded_run_trains_and_resumes_bit_for_bit()
    {
        using var temp = new TempFolder();
        string[] eightBit = ["--strategy", "fsdp", "--optimizer", "adamw8bit"];
        var (exit, output) = Engine.Tests.Distributed.Mpi.Run(2, Engine.Tests.Distributed.EquivalentRuns.Args("clm", temp["straight"], 6, eightBit));
        Assert.True(exit == 0, output);
        (exit, output) = Engine.Tests.Distributed.Mpi.Run(2, Engine.Tests.Distributed.EquivalentRuns.Args("clm", temp["resumed"], 3, eightBit));
        Assert.True(exit == 0, output);
        (exit, output) = Engine.Tests.Distributed.Mpi.Run(2, ["--resume", temp["resumed"], "--strategy", "fsdp", "--steps", "6", "--sample-tokens", "0"]);
        Assert.True(exit == 0, output);
        var a = SafeTensors.Read(Path.Combine(temp["straight"], "checkpoint", Checkpoint.WeightsFile));
        var b = SafeTensors.Read(Path.Combine(temp["resumed"], "checkpoint", Checkpoint.WeightsFile));
        foreach (var (name, t) in a) Assert.Equal(t.Values, b[name].Values);
        Assert.True(EightBitCheckpoint.Holds(SafeTensors.Read(Path.Combine(temp["resumed"], "checkpoint", Checkpoint.OptimizerFile))));
    }
}
