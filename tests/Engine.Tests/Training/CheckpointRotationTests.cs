using System.Text.Json.Nodes;
using Engine.Backends;
using Engine.Checkpoints;
using Engine.Tests.Support;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>One uninterrupted 6-step run that checkpoints every 2 steps and keeps 3: what the others must equal.</summary>
public sealed class StraightRun : IDisposable
{
    public const int Steps = 6;
    readonly TempFolder temp = new();
    public float[] FinalParameters { get; }
    public IReadOnlyList<int> KeptSteps { get; }
    public string[] Folders { get; }

    public StraightRun()
    {
        using var run = TrainingJob.Prepare(CheckpointRotationTests.Options(temp["run"], keep: 3));
        run.Loop.Run();
        FinalParameters = SmallRuns.Parameters(run);
        KeptSteps = CheckpointSet.List(temp["run"]).Select(e => e.Step!.Value).ToList();
        Folders = Directory.GetDirectories(temp["run"]).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
    }

    public void Dispose() => temp.Dispose();
}

/// <summary>
/// A run keeps its last N checkpoints (checkpoint/ the newest, checkpoint-step-N/ the older), each of which resumes to
/// the same weights as the run that never stopped; a resume passes over a broken newest one and says so; a full disk
/// while saving ends the run with an error that says what is intact, and the run resumes (or starts over) afterwards.
/// </summary>
public class CheckpointRotationTests(StraightRun straight) : IClassFixture<StraightRun>
{
    public static TrainOptions Options(string folder, int keep = 2)
    {
        var options = SmallRuns.Options(folder, StraightRun.Steps);
        return options with { Settings = options.Settings with { CheckpointEvery = 2, KeepCheckpoints = keep } };
    }

    static TrainOptions Resume(string folder) => new() { Resume = folder, Device = DeviceKind.Cpu, EmbeddedText = Trainer.EmbeddedCorpus.Text };

    static List<int> MetricSteps(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>()).ToList();

    /// <summary>Resumes <paramref name="folder"/>, checks the step it starts from, runs it to the end and returns its weights.</summary>
    static float[] ResumeToTheEnd(TrainOptions options, int expectedStep)
    {
        using var run = TrainingJob.Prepare(options);
        Assert.Equal(expectedStep, run.Loop.State.Step);
        run.Loop.Run();
        return SmallRuns.Parameters(run);
    }

    [Fact]
    public void The_folder_keeps_the_last_n_newest_first_and_each_resumes_to_the_uninterrupted_weights()
    {
        Assert.Equal(new[] { 6, 4, 2 }, straight.KeptSteps);
        Assert.Equal(new[] { "checkpoint", "checkpoint-step-000002", "checkpoint-step-000004" }, straight.Folders);

        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(Options(temp["run"], keep: 3))) run.Loop.Run();
        // The newest lost: the resume takes step 4 and ends where the straight run did.
        Directory.Delete(Path.Combine(temp["run"], "checkpoint"), recursive: true);
        Assert.Equal(straight.FinalParameters, ResumeToTheEnd(Resume(temp["run"]), 4));
        Assert.Equal(new[] { 6, 4, 2 }, CheckpointSet.List(temp["run"]).Select(e => e.Step!.Value));
        // The two newest lost: step 2 does too.
        Directory.Delete(Path.Combine(temp["run"], "checkpoint"), recursive: true);
        Directory.Delete(Path.Combine(temp["run"], "checkpoint-step-000004"), recursive: true);
        Assert.Equal(straight.FinalParameters, ResumeToTheEnd(Resume(temp["run"]), 2));
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6 }, MetricSteps(temp["run"]));
    }

    [Fact]
    public void A_resume_skips_a_newest_checkpoint_cut_short_says_so_and_may_change_how_many_are_kept()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(Options(temp["run"]))) run.Loop.Run();
        string weights = Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile);
        using (var f = new FileStream(weights, FileMode.Open)) f.SetLength(f.Length / 2);
        var options = Resume(temp["run"]) with { Given = new HashSet<EngineOption> { EngineOption.KeepCheckpoints }, Settings = new TrainingSettings { KeepCheckpoints = 1 } };
        using (var run = TrainingJob.Prepare(options))
        {
            Assert.Equal(4, run.Loop.State.Step);
            Assert.Equal(1, run.Loop.State.Settings.KeepCheckpoints);
            string note = Assert.Single(run.Notes).ToString();
            Assert.Contains($"skipped checkpoint {Path.Combine(temp["run"], "checkpoint")} (step 6): model.safetensors is", note);
            Assert.Contains("but its header promises", note);
            Assert.Contains($"resuming from {Path.Combine(temp["run"], "checkpoint-step-000004")}", note);
            run.Loop.Run();
            Assert.Equal(straight.FinalParameters, SmallRuns.Parameters(run));
        }
        Assert.Equal(new[] { "checkpoint" }, Directory.GetDirectories(temp["run"]).Select(Path.GetFileName));
        Assert.Equal(6, CheckpointSet.Choose(temp["run"]).Chosen!.Step);
    }

    /// <summary>Fills the simulated disk once step <paramref name="step"/>'s checkpoint is saved, keeping a copy of it.</summary>
    sealed class FillDiskAfter(int step, DiskSpace.Simulation disk) : ITrainingObserver
    {
        public SortedDictionary<string, string>? Saved { get; private set; }

        public void OnCheckpoint(int saved, string path)
        {
            if (saved != step) return;
            Saved = Checkpoints.CheckpointSetTests.Snapshot(path);
            disk.FullAfterBytes = disk.Written + 4096; // the next metrics lines fit, the next checkpoint does not
        }
    }

    [Fact]
    public void A_disk_that_fills_during_a_save_stops_the_run_clearly_and_it_resumes_exactly_once_there_is_room()
    {
        using var temp = new TempFolder();
        var disk = new DiskSpace.Simulation();
        var fill = new FillDiskAfter(2, disk);
        DiskSpace.Simulated.Value = disk;
        try
        {
            using var run = TrainingJob.Prepare(Options(temp["run"]));
            var e = Assert.Throws<EngineException>(() => run.Loop.Run(default, fill));
            Assert.Contains("step 4: cannot save a checkpoint: writing", e.Message);
            Assert.Contains("failed: No space left on device", e.Message);
            Assert.Contains("it needs about", e.Message);
            Assert.Contains("The previous checkpoint (step 2) is intact", e.Message);
        }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.False(Directory.Exists(Path.Combine(temp["run"], "checkpoint.tmp")));
        Assert.Equal(new[] { "checkpoint" }, Directory.GetDirectories(temp["run"]).Select(Path.GetFileName));
        Assert.Equal(fill.Saved, Checkpoints.CheckpointSetTests.Snapshot(Path.Combine(temp["run"], "checkpoint")));
        Assert.Equal(straight.FinalParameters, ResumeToTheEnd(Resume(temp["run"]), 2));
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6 }, MetricSteps(temp["run"]));
    }

    [Fact]
    public void Too_little_room_for_the_first_checkpoint_fails_early_and_the_same_out_starts_over()
    {
        using var temp = new TempFolder();
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(freeBytes: 1_000_000);
        try
        {
            using var run = TrainingJob.Prepare(Options(temp["run"]));
            var e = Assert.Throws<EngineException>(() => run.Loop.Run());
            Assert.Contains("step 2: cannot save a checkpoint: there is not enough free space; it needs about", e.Message);
            Assert.Contains("has 1,000,000 free", e.Message);
            Assert.Contains("There is no checkpoint yet: free some space and start again with the same Out", e.Message);
        }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.Empty(Directory.GetDirectories(temp["run"]));
        var refused = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Resume(temp["run"])));
        Assert.Contains("the run stopped before its first checkpoint was saved, so there is nothing to resume: start it over with the same Out", refused.Message);
        using (var run = TrainingJob.Prepare(Options(temp["run"])))
        {
            Assert.Contains("holds a run without a complete checkpoint: starting it over; its metrics.jsonl (3 lines) is replaced", Assert.Single(run.Notes).ToString());
            run.Loop.Run();
            Assert.Equal(straight.FinalParameters, SmallRuns.Parameters(run));
        }
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6 }, MetricSteps(temp["run"]));
    }

    [Fact]
    public void A_metrics_line_that_fills_the_disk_is_taken_back_and_named()
    {
        using var temp = new TempFolder();
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(fullAfterBytes: 10);
        try
        {
            using var run = TrainingJob.Prepare(Options(temp["run"]));
            var e = Assert.Throws<EngineException>(() => run.Loop.Run());
            Assert.Contains($"step 0: writing {Path.Combine(temp["run"], "metrics.jsonl")} failed (No space left on device", e.Message);
            Assert.Contains("There is no checkpoint yet", e.Message);
        }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.False(File.Exists(Path.Combine(temp["run"], "metrics.jsonl")) && new FileInfo(Path.Combine(temp["run"], "metrics.jsonl")).Length > 0);
    }

    [Fact]
    public void Resuming_an_older_checkpoint_on_purpose_says_the_newer_ones_are_replaced()
    {
        using var temp = new TempFolder();
        using (var run = TrainingJob.Prepare(Options(temp["run"]))) run.Loop.Run();
        using (var run = TrainingJob.Prepare(Resume(Path.Combine(temp["run"], "checkpoint-step-000004"))))
        {
            Assert.Equal(4, run.Loop.State.Step);
            Assert.Equal($"{temp["run"]} holds checkpoints newer than step 4 (step 6): the first save of this run replaces them", Assert.Single(run.Notes).ToString());
            run.Loop.Run();
            Assert.Equal(straight.FinalParameters, SmallRuns.Parameters(run));
        }
        Assert.Equal(new[] { 6, 4 }, CheckpointSet.List(temp["run"]).Select(e => e.Step!.Value));
    }

    [Fact]
    public void Keeping_no_checkpoint_is_refused()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<EngineException>(() => TrainingJob.Prepare(Options(temp["run"], keep: 0)));
        Assert.Equal(EngineOption.KeepCheckpoints, e.Option);
        Assert.Contains("KeepCheckpoints must be at least 1 (got 0)", e.Message);
    }
}
