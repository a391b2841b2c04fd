using Engine.Checkpoints;
using Engine.Tests.Support;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// Which checkpoint of a run folder a resume takes, and how saving rotates them, on small stand-in checkpoints (the
/// files a checkpoint holds, with a few floats each), including the states a kill or a full disk leaves.
/// </summary>
public class CheckpointSetTests
{
    /// <summary>Writes a stand-in checkpoint of <paramref name="step"/> into <paramref name="folder"/>.</summary>
    static void WriteFake(string folder, int step)
    {
        Directory.CreateDirectory(folder);
        float[] values = Enumerable.Range(0, 64).Select(i => (float)(i + step)).ToArray();
        SafeTensors.Write(Path.Combine(folder, Checkpoint.WeightsFile), [new SafeTensors.Entry("w", [values.LongLength], values)]);
        SafeTensors.Write(Path.Combine(folder, Checkpoint.OptimizerFile), [new SafeTensors.Entry("adamw.first_moment", [values.LongLength], values)]);
        File.WriteAllText(Path.Combine(folder, Checkpoint.ConfigFile), "{}");
        File.WriteAllText(Path.Combine(folder, Checkpoint.StateFile), $"{{\"step\": {step}}}");
    }

    static void Save(string run, int step, int keep, int continuesFrom) =>
        CheckpointSet.Save(run, step, keep, continuesFrom, 4096, temporary => WriteFake(temporary, step));

    static string[] Folders(string run) => Directory.GetDirectories(run).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    static int StepOf(string folder) => CheckpointCheck.Of(folder).Step!.Value;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Saving_keeps_exactly_the_last_n_newest_in_checkpoint(int keep)
    {
        using var temp = new TempFolder();
        int last = -1;
        foreach (int step in new[] { 2, 4, 6, 8, 10 }) { Save(temp.Path, step, keep, last); last = step; }
        var list = CheckpointSet.List(temp.Path);
        Assert.Equal(new[] { 10, 8, 6 }.Take(keep), list.Select(e => e.Step!.Value));
        Assert.All(list, e => Assert.True(e.IsGood, e.Problem));
        Assert.Equal(Path.Combine(temp.Path, "checkpoint"), list[0].Path);
        Assert.Equal(new[] { "checkpoint" }.Concat(new[] { "checkpoint-step-000006", "checkpoint-step-000008" }.TakeLast(keep - 1)).Order(StringComparer.Ordinal), Folders(temp.Path));
    }

    [Fact]
    public void A_resume_skips_a_newest_whose_weights_are_cut_short_and_says_why()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1); Save(temp.Path, 4, 2, 2);
        string weights = Path.Combine(temp.Path, "checkpoint", Checkpoint.WeightsFile);
        using (var f = new FileStream(weights, FileMode.Open)) f.SetLength(f.Length - 10);
        var choice = CheckpointSet.Choose(temp.Path);
        Assert.Equal(Path.Combine(temp.Path, "checkpoint-step-000002"), choice.Chosen!.Path);
        var skipped = Assert.Single(choice.Skipped);
        Assert.Equal(4, skipped.Step);
        Assert.Contains("model.safetensors is", skipped.Problem);
        Assert.Contains("but its header promises", skipped.Problem);
        Assert.Equal(Path.Combine(temp.Path, "checkpoint-step-000002"), Checkpoint.Locate(temp.Path));
    }

    [Fact]
    public void A_resume_skips_a_newest_without_its_state_or_optimizer()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 3, -1); Save(temp.Path, 4, 3, 2); Save(temp.Path, 6, 3, 4);
        File.Delete(Path.Combine(temp.Path, "checkpoint", Checkpoint.StateFile));
        File.Delete(Path.Combine(temp.Path, "checkpoint-step-000004", Checkpoint.OptimizerFile));
        var choice = CheckpointSet.Choose(temp.Path);
        Assert.Equal(2, choice.Chosen!.Step);
        Assert.Equal(new[] { "trainer_state.json is missing", "optimizer.safetensors is missing" }, choice.Skipped.Select(s => s.Problem));
    }

    [Fact]
    public void A_state_that_does_not_parse_is_skipped()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1); Save(temp.Path, 4, 2, 2);
        File.WriteAllText(Path.Combine(temp.Path, "checkpoint", Checkpoint.StateFile), "{\"step\": 4, \"mod");
        var choice = CheckpointSet.Choose(temp.Path);
        Assert.Equal(2, choice.Chosen!.Step);
        Assert.Contains("trainer_state.json does not parse", Assert.Single(choice.Skipped).Problem);
    }

    [Fact]
    public void A_leftover_temporary_folder_is_never_taken_and_the_next_save_removes_it()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1);
        WriteFake(Path.Combine(temp.Path, "checkpoint.tmp"), 4); // a kill after the write, before the rename
        Assert.Equal(2, CheckpointSet.Choose(temp.Path).Chosen!.Step);
        Assert.Empty(CheckpointSet.Choose(temp.Path).Skipped);
        Save(temp.Path, 4, 2, 2);
        Assert.Equal(new[] { "checkpoint", "checkpoint-step-000002" }, Folders(temp.Path));
    }

    [Fact]
    public void A_kill_between_the_two_renames_leaves_the_previous_one_as_the_newest()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1);
        // What a kill after checkpoint/ became checkpoint-step-000002 and before checkpoint.tmp became checkpoint/ leaves.
        WriteFake(Path.Combine(temp.Path, "checkpoint.tmp"), 4);
        Directory.Move(Path.Combine(temp.Path, "checkpoint"), Path.Combine(temp.Path, "checkpoint-step-000002"));
        Assert.Equal(Path.Combine(temp.Path, "checkpoint-step-000002"), CheckpointSet.Choose(temp.Path).Chosen!.Path);
        Save(temp.Path, 4, 2, 2); // the resumed run saves step 4 again
        Assert.Equal(new[] { "checkpoint", "checkpoint-step-000002" }, Folders(temp.Path));
        Assert.Equal(4, StepOf(Path.Combine(temp.Path, "checkpoint")));
    }

    [Fact]
    public void A_leftover_old_from_an_interrupted_swap_is_taken_and_then_rotated()
    {
        using var temp = new TempFolder();
        // Earlier versions swapped checkpoint/ → checkpoint.old, checkpoint.tmp → checkpoint/: a kill between the two.
        WriteFake(Path.Combine(temp.Path, "checkpoint.old"), 3);
        WriteFake(Path.Combine(temp.Path, "checkpoint.tmp"), 6);
        Assert.Equal(Path.Combine(temp.Path, "checkpoint.old"), Checkpoint.Locate(temp.Path));
        Save(temp.Path, 6, 2, 3);
        Assert.Equal(new[] { "checkpoint", "checkpoint-step-000003" }, Folders(temp.Path));
        // Killed after the second rename: checkpoint/ is newer than the .old beside it.
        using var other = new TempFolder();
        WriteFake(Path.Combine(other.Path, "checkpoint.old"), 3);
        WriteFake(Path.Combine(other.Path, "checkpoint"), 6);
        Assert.Equal(6, CheckpointSet.Choose(other.Path).Chosen!.Step);
    }

    [Fact]
    public void A_folder_being_deleted_is_never_taken()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1);
        WriteFake(Path.Combine(temp.Path, "checkpoint-step-000009.deleting"), 9);
        Assert.Equal(2, CheckpointSet.Choose(temp.Path).Chosen!.Step);
        Save(temp.Path, 4, 2, 2);
        Assert.Equal(new[] { "checkpoint", "checkpoint-step-000002" }, Folders(temp.Path));
    }

    [Fact]
    public void Saving_after_resuming_an_older_checkpoint_removes_the_newer_line_and_the_broken_ones()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 3, -1); Save(temp.Path, 4, 3, 2); Save(temp.Path, 6, 3, 4);
        using (var f = new FileStream(Path.Combine(temp.Path, "checkpoint", Checkpoint.WeightsFile), FileMode.Open)) f.SetLength(100);
        // Resumed from step 4 (the newest good one), then saved step 5.
        Save(temp.Path, 5, 3, 4);
        Assert.Equal(new[] { 5, 4, 2 }, CheckpointSet.List(temp.Path).Select(e => e.Step!.Value));
        Assert.All(CheckpointSet.List(temp.Path), e => Assert.True(e.IsGood));
    }

    [Fact]
    public void Too_little_free_space_fails_before_anything_changes()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1); Save(temp.Path, 4, 2, 2);
        var before = Snapshot(temp.Path);
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(freeBytes: 1000);
        try
        {
            var e = Assert.Throws<EngineException>(() => Save(temp.Path, 6, 2, 4));
            Assert.Contains("step 6: cannot save a checkpoint: there is not enough free space", e.Message);
            Assert.Contains("it needs about 4,096 bytes", e.Message);
            Assert.Contains("has 1,000 free", e.Message);
            Assert.Contains("The previous checkpoint (step 4) is intact", e.Message);
            Assert.Equal(EngineOption.Resume, e.Option);
            Assert.DoesNotContain("KeepCheckpoints", e.Message); // with 2 kept, keeping fewer frees nothing
        }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.Equal(before, Snapshot(temp.Path));
    }

    [Fact]
    public void Keeping_fewer_is_suggested_only_when_it_would_free_room()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 3, -1); Save(temp.Path, 4, 3, 2);
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(freeBytes: 0);
        try
        {
            var e = Assert.Throws<EngineException>(() => Save(temp.Path, 6, 3, 4));
            Assert.Equal(EngineOption.KeepCheckpoints, e.Option);
            Assert.Contains("keep fewer than 3 checkpoints with KeepCheckpoints", e.Message);
        }
        finally { DiskSpace.Simulated.Value = null; }
    }

    [Fact]
    public void Free_space_counts_the_older_checkpoints_a_save_would_remove()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 3, -1); Save(temp.Path, 4, 3, 2); Save(temp.Path, 6, 3, 4);
        long oldest = DiskSpace.SizeOf(Path.Combine(temp.Path, "checkpoint-step-000002"));
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(freeBytes: 4096 - oldest);
        try { Save(temp.Path, 8, 3, 6); }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.Equal(new[] { 8, 6, 4 }, CheckpointSet.List(temp.Path).Select(e => e.Step!.Value));
    }

    [Fact]
    public void A_write_that_fills_the_disk_removes_the_partial_folder_and_leaves_the_previous_one_byte_for_byte()
    {
        using var temp = new TempFolder();
        Save(temp.Path, 2, 2, -1); Save(temp.Path, 4, 2, 2);
        var before = Snapshot(temp.Path);
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(fullAfterBytes: 100);
        try
        {
            var e = Assert.Throws<EngineException>(() => Save(temp.Path, 6, 2, 4));
            Assert.Contains("step 6: cannot save a checkpoint: writing", e.Message);
            Assert.Contains("checkpoint.tmp failed: No space left on device", e.Message);
            Assert.Contains("The previous checkpoint (step 4) is intact", e.Message);
            Assert.IsType<IOException>(e.InnerException);
        }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "checkpoint.tmp")));
        // With N = 2 the oldest goes before the write (it would go after it anyway): the newest stays, byte for byte.
        Assert.Equal(new SortedDictionary<string, string>(before.Where(f => f.Key.StartsWith("checkpoint/", StringComparison.Ordinal)).ToDictionary(), StringComparer.Ordinal), Snapshot(temp.Path));
        Save(temp.Path, 6, 2, 4); // room again: the same save succeeds
        Assert.Equal(new[] { 6, 4 }, CheckpointSet.List(temp.Path).Select(e => e.Step!.Value));
    }

    [Fact]
    public void A_failed_first_save_says_there_is_no_checkpoint_yet()
    {
        using var temp = new TempFolder();
        DiskSpace.Simulated.Value = new DiskSpace.Simulation(fullAfterBytes: 100);
        try
        {
            var e = Assert.Throws<EngineException>(() => Save(temp.Path, 2, 2, -1));
            Assert.Contains("There is no checkpoint yet", e.Message);
            Assert.Equal(EngineOption.Out, e.Option);
        }
        finally { DiskSpace.Simulated.Value = null; }
        Assert.Empty(Directory.GetDirectories(temp.Path));
    }

    /// <summary>Every file under a folder (relative path with '/') and its bytes in hex.</summary>
    internal static SortedDictionary<string, string> Snapshot(string folder) => new(
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f).Replace('\\', '/'), f => Convert.ToHexString(File.ReadAllBytes(f))), StringComparer.Ordinal);
}
