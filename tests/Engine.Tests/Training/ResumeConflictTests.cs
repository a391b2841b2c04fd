using Engine.Backends;
using Engine.Models;
using Engine.Objectives;
using Engine.Optim;
using Engine.Precision;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A resume keeps what shaped the run (model, data, schedule, seed, …) and takes what may change (steps, intervals,
/// micro-batch, …): a fixed option given with another value than the checkpoint's is refused, every conflict listed
/// with both values; one given with the same value is not a conflict; the others are honoured and echoed.
/// </summary>
public class ResumeConflictTests
{
    /// <summary>A checkpoint's state at step 40: a 2-layer gpt2-tiny of width 64 on the embedded text (no training needed).</summary>
    static TrainerState Saved(int step = 40, int steps = 60) => new()
    {
        Step = step,
        Model = Presets.Get("gpt2-tiny") with { Layers = 2, Dim = 64, Heads = 4, FeedForwardDim = 256, MaxPositions = 64, VocabSize = 633, PaddedVocabSize = 633 },
        Settings = new TrainingSettings
        {
            Steps = steps, GlobalBatch = 8, MicroBatch = 4, SequenceLength = 64, LearningRate = 3e-3f, WarmupSteps = 5, EvalEvery = 0,
            EvalBatches = 2, Seed = 7, ClipNorm = 1.0,
        },
        Tokenizer = Engine.Tokenizers.RunBpeTokenizer.SpecName,
        Objective = TrainingObjective.Clm,
        Data = TrainingJob.EmbeddedData,
    };

    /// <summary>Options that give exactly <paramref name="given"/> (as the trainer fills <see cref="TrainOptions.Given"/>).</summary>
    static TrainOptions Giving(TrainOptions options, params EngineOption[] given) =>
        options with { Resume = "runs/x", Given = given.ToHashSet() };

    static readonly TrainOptions Plain = new();

    /// <summary>The 13 fixed options the issue tried (its 14th, the checkpoint interval, may change), each with another value.</summary>
    public static TheoryData<string, EngineOption, string, string> FixedCases() => new()
    {
        { "dim", EngineOption.Dim, "256", "64" },
        { "layers", EngineOption.Layers, "6", "2" },
        { "heads", EngineOption.Heads, "8", "4" },
        { "lr", EngineOption.LearningRate, "0.1", "0.003" },
        { "batch", EngineOption.GlobalBatch, "32", "8" },
        { "seq", EngineOption.SequenceLength, "32", "64" },
        { "model", EngineOption.Model, "gpt2-small", "2 layers, width 64, 4 heads, feed-forward 256, 64 positions" },
        { "objective", EngineOption.Objective, "mlm", "clm" },
        { "precision", EngineOption.Precision, "bf16", "fp32" },
        { "seed", EngineOption.Seed, "3", "7" },
        { "data", EngineOption.Data, "data/web", "the embedded text" },
        { "clip", EngineOption.ClipNorm, "0.5", "1" },
        { "optimizer", EngineOption.Optimizer, "adamw8bit", "adamw" },
    };

    static TrainOptions With(string name) => name switch
    {
        "dim" => Plain with { Dim = 256 },
        "layers" => Plain with { Layers = 6 },
        "heads" => Plain with { Heads = 8 },
        "lr" => Plain with { Settings = Plain.Settings with { LearningRate = 0.1f } },
        "batch" => Plain with { Settings = Plain.Settings with { GlobalBatch = 32 } },
        "seq" => Plain with { Settings = Plain.Settings with { SequenceLength = 32 } },
        "model" => Plain with { Model = "gpt2-small" },
        "objective" => Plain with { Objective = TrainingObjective.Mlm },
        "precision" => Plain with { Settings = Plain.Settings with { Precision = PrecisionMode.Bf16 } },
        "seed" => Plain with { Settings = Plain.Settings with { Seed = 3 } },
        "data" => Plain with { DataSources = [new DataSource("data/web")] },
        "clip" => Plain with { Settings = Plain.Settings with { ClipNorm = 0.5 } },
        "optimizer" => Plain with { Settings = Plain.Settings with { AdamW = Plain.Settings.AdamW with { Optimizer = OptimizerKind.AdamW8Bit } } },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(FixedCases))]
    public void A_fixed_option_with_another_value_is_refused_with_the_checkpoints_value(string name, EngineOption option, string given, string checkpointed)
    {
        var conflicts = ResumeConflicts.Find(Giving(With(name), option), Saved());
        var conflict = Assert.Single(conflicts);
        Assert.Equal(new ResumeConflicts.Conflict(option, given, checkpointed), conflict);

        var e = Assert.Throws<EngineException>(() => ResumeConflicts.Check(Giving(With(name), option), Saved()));
        Assert.Equal(option, e.Option);
        Assert.Equal($"Resume runs/x: this option contradicts the checkpoint (step 40): {option} {given} (checkpoint: {checkpointed}); leave it out to continue the run, or start a new run with Out", e.Message);
    }

    [Theory]
    [MemberData(nameof(FixedCases))]
    public void An_API_caller_who_sets_a_fixed_option_gets_the_same_check(string name, EngineOption option, string given, string checkpointed)
    {
        // Given left null: a value other than a new TrainOptions' counts as given.
        var conflict = Assert.Single(ResumeConflicts.Find(With(name) with { Resume = "runs/x" }, Saved()));
        Assert.Equal(new ResumeConflicts.Conflict(option, given, checkpointed), conflict);
    }

    [Fact]
    public void Every_conflict_is_listed_in_one_error()
    {
        var options = Giving(Plain with { Dim = 256, Settings = Plain.Settings with { LearningRate = 0.1f, Seed = 3 } },
            EngineOption.Dim, EngineOption.LearningRate, EngineOption.Seed);
        var e = Assert.Throws<EngineException>(() => ResumeConflicts.Check(options, Saved()));
        Assert.Equal(EngineOption.Dim, e.Option);
        Assert.Equal("Resume runs/x: these options contradict the checkpoint (step 40): Dim 256 (checkpoint: 64), Seed 3 (checkpoint: 7), " +
            "LearningRate 0.1 (checkpoint: 0.003); leave them out to continue the run, or start a new run with Out", e.Message);
        Assert.Equal([EngineOption.Resume, EngineOption.Dim, EngineOption.Seed, EngineOption.LearningRate, EngineOption.Out], e.Text!.Options);
    }

    [Fact]
    public void A_fixed_option_given_with_the_checkpoints_value_is_not_a_conflict()
    {
        var saved = Saved();
        var same = Plain with
        {
            Model = "gpt2-tiny", Layers = 2, Dim = 64, Heads = 4, FeedForwardDim = 256, MaxPositions = 64, Objective = TrainingObjective.Clm,
            Settings = saved.Settings, EmbeddedBpeVocabSize = 1024,
        };
        var every = ResumeConflicts.Fixed.ToArray();
        Assert.Empty(ResumeConflicts.Find(Giving(same, every), saved));
        ResumeConflicts.Check(Giving(same, every), saved);
        // The same without Given (an API caller resuming with the options that started the run).
        Assert.Empty(ResumeConflicts.Find(same with { Resume = "runs/x" }, saved));
    }

    [Fact]
    public void An_option_not_given_is_never_a_conflict()
    {
        // The trainer's defaults differ from the run's, but nothing was typed.
        Assert.Empty(ResumeConflicts.Find(Giving(Plain with { Settings = new TrainingSettings { Seed = 99, LearningRate = 1f } }), Saved()));
    }

    [Fact]
    public void A_data_folder_is_the_same_by_full_path_and_weight()
    {
        using var temp = new TempFolder();
        var saved = Saved() with { Data = temp["web"], Sources = [new DataSource(temp["web"]), new DataSource(temp["code"], 3)] };
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, temp["web"]);
        Assert.Empty(ResumeConflicts.Find(Giving(Plain with { DataSources = [new DataSource(relative + "/"), new DataSource(temp["code"], 3)] }, EngineOption.Data), saved));
        var conflict = Assert.Single(ResumeConflicts.Find(Giving(Plain with { DataSources = [new DataSource(temp["web"]), new DataSource(temp["code"], 1)] }, EngineOption.Data), saved));
        Assert.Equal($"{temp["web"]}:1 + {temp["code"]}:1", conflict.Given);
        Assert.Equal($"{temp["web"]}:1 + {temp["code"]}:3", conflict.Checkpointed);
    }

    [Fact]
    public void A_run_with_QAT_keeps_its_scheme_and_a_run_without_may_add_one()
    {
        var w8a8 = Tensors.QuantizationScheme.Parse("w8a8");
        var w4a8 = Tensors.QuantizationScheme.Parse("w4a8");
        Assert.Empty(ResumeConflicts.Find(Giving(Plain with { Qat = w8a8 }, EngineOption.Qat), Saved()));
        var withQat = Saved() with { Model = Saved().Model with { Qat = w8a8 } };
        Assert.Equal(new ResumeConflicts.Conflict(EngineOption.Qat, "w4a8", "w8a8"), Assert.Single(ResumeConflicts.Find(Giving(Plain with { Qat = w4a8 }, EngineOption.Qat), withQat)));
        // The learnt steps' rates are the run's once it has QAT.
        var faster = Plain with { Settings = Plain.Settings with { AdamW = Plain.Settings.AdamW with { WeightStepLearningRateScale = 1f } } };
        Assert.Empty(ResumeConflicts.Find(Giving(faster, EngineOption.WeightStepLearningRateScale), Saved()));
        Assert.Single(ResumeConflicts.Find(Giving(faster, EngineOption.WeightStepLearningRateScale), withQat));
    }

    [Fact]
    public void An_embedded_bpe_at_or_above_the_size_it_reached_learns_the_same_tokens()
    {
        var saved = Saved();
        Assert.Empty(ResumeConflicts.Find(Giving(Plain with { EmbeddedBpeVocabSize = 633 }, EngineOption.EmbeddedBpe), saved));
        Assert.Equal(new ResumeConflicts.Conflict(EngineOption.EmbeddedBpe, "0", "a BPE of 633 tokens, from at least 633"),
            Assert.Single(ResumeConflicts.Find(Giving(Plain with { EmbeddedBpeVocabSize = 0 }, EngineOption.EmbeddedBpe), saved)));
        Assert.Single(ResumeConflicts.Find(Giving(Plain with { EmbeddedBpeVocabSize = 300 }, EngineOption.EmbeddedBpe), saved));
    }

    [Fact]
    public void Options_that_may_change_are_taken_and_described()
    {
        var saved = Saved();
        var options = Giving(Plain with { Settings = Plain.Settings with { Steps = 100, CheckpointEvery = 10, EvalEvery = 5, MicroBatch = 2, Seed = 3 } },
            EngineOption.Steps, EngineOption.CheckpointEvery, EngineOption.EvalEvery, EngineOption.MicroBatch);
        var merged = ResumeConflicts.Merge(saved.Settings, options);
        Assert.Equal(saved.Settings with { Steps = 100, CheckpointEvery = 10, EvalEvery = 5, MicroBatch = 2 }, merged);
        Assert.Equal("resuming at step 40 with Steps 100 (was 60), CheckpointEvery 10 (was 0), EvalEvery 5 (was 0), MicroBatch 2 (was 4); " +
            "validation now scores up to 4 sequences (was 8), so its loss is not comparable with the earlier values",
            ResumeConflicts.Describe(saved.Step, saved.Settings, merged)!.ToString());
        // Nothing given: the checkpoint's settings, nothing to say.
        Assert.Equal(saved.Settings, ResumeConflicts.Merge(saved.Settings, Giving(options)));
        Assert.Null(ResumeConflicts.Describe(saved.Step, saved.Settings, saved.Settings));
    }

    [Fact]
    public void A_finished_run_is_refused_unless_the_steps_extend_it()
    {
        var finished = Saved(step: 60, steps: 60);
        var e = Assert.Throws<EngineException>(() => ResumeConflicts.CheckStepsLeft(Giving(Plain), finished, finished.Settings));
        Assert.Equal(EngineOption.Steps, e.Option);
        Assert.Equal("Resume runs/x: the run finished at step 60 of 60: give Steps N above 60 to extend it", e.Message);
        var shorter = Giving(Plain with { Settings = Plain.Settings with { Steps = 30 } }, EngineOption.Steps);
        e = Assert.Throws<EngineException>(() => ResumeConflicts.CheckStepsLeft(shorter, Saved(), ResumeConflicts.Merge(Saved().Settings, shorter)));
        Assert.Equal("Resume runs/x: the run is at step 40, so Steps 30 leaves nothing to train: give Steps N above 40 to extend it", e.Message);
        ResumeConflicts.CheckStepsLeft(Giving(Plain), Saved(), Saved().Settings);
    }

    [Fact]
    public void Every_option_is_fixed_or_may_change_never_both()
    {
        Assert.Empty(ResumeConflicts.Fixed.Intersect(ResumeConflicts.MayChange));
        Assert.Equal(ResumeConflicts.Fixed.Count, ResumeConflicts.Fixed.Distinct().Count());
    }

    // Through TrainingJob: the checks happen before anything is written, and what may change is honoured.

    static TrainOptions Resuming(string folder, TrainingSettings settings, params EngineOption[] given) => new()
    {
        Resume = folder, Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text, Settings = settings, Given = given.ToHashSet(),
    };

    [Fact]
    public void A_refused_resume_leaves_the_run_folder_as_it_was()
    {
        using var temp = new TempFolder();
        var options = SmallRuns.Options(temp["run"], 3);
        using (var run = TrainingJob.Prepare(options)) run.Loop.Run();
        var before = Snapshot(temp["run"]);

        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Resuming(temp["run"], options.Settings with { Seed = 1 }, EngineOption.Seed)));
        Assert.Contains("Seed 1 (checkpoint: 7)", e.Message);
        e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Resuming(temp["run"], options.Settings)));
        Assert.Equal("Resume " + temp["run"] + ": the run finished at step 3 of 3: give Steps N above 3 to extend it", e.Message);
        Assert.Equal(before, Snapshot(temp["run"]));
    }

    [Fact]
    public void Steps_and_the_checkpoint_interval_given_on_resume_are_honoured()
    {
        using var temp = new TempFolder();
        var options = SmallRuns.Options(temp["run"], 4);
        using (var run = TrainingJob.Prepare(options)) run.Loop.Run();
        string checkpoint = Path.Combine(temp["run"], "checkpoint");

        var resumed = Resuming(temp["run"], options.Settings with { Steps = 9, CheckpointEvery = 2 }, EngineOption.Steps, EngineOption.CheckpointEvery);
        var checkpointedAt = new Dictionary<int, int>();
        using (var run = TrainingJob.Prepare(resumed))
        {
            Assert.Equal(9, run.Loop.State.Settings.Steps);
            Assert.Equal(2, run.Loop.State.Settings.CheckpointEvery);
            Assert.Equal("resuming at step 4 with Steps 9 (was 4), CheckpointEvery 2 (was 0)", run.ResumeChanges!.ToString());
            var summary = run.Loop.Run(default, new CheckpointWatcher(checkpoint, checkpointedAt));
            Assert.Equal(9, summary.Steps);
        }
        // Step 7 sees the checkpoint of step 6, saved by the interval given on resume (without it: still step 4's).
        Assert.Equal(4, checkpointedAt[5]);
        Assert.Equal(6, checkpointedAt[7]);
        Assert.Equal(8, checkpointedAt[9]);
        Assert.Equal(9, TrainerState.Read(checkpoint)!.Step);
    }

    /// <summary>Records, at each step, the step of the checkpoint on disk.</summary>
    sealed class CheckpointWatcher(string checkpoint, Dictionary<int, int> seen) : ITrainingObserver
    {
        public void OnStep(StepMetrics m) => seen[m.Step] = TrainerState.Read(checkpoint)!.Step;
    }

    static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
}
