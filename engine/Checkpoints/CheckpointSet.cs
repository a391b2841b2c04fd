using System.Globalization;
using System.Text.RegularExpressions;

namespace Engine.Checkpoints;

/// <summary>
/// The checkpoints of a run folder: checkpoint/ holds the newest (what eval, generate, export, quantize and init-from
/// read), checkpoint-step-NNNNNN/ the older ones kept by rotation. Saving keeps the last N good ones and is a chain of
/// renames, so a kill at any instant leaves at least one complete checkpoint and nothing a resume misreads:
/// <list type="number">
/// <item>checkpoints beyond the N-1 newest (and broken or stale ones, and leftovers of an earlier kill) are removed
/// (renamed to NAME.deleting, then deleted: a half-deleted folder never looks like a checkpoint);</item>
/// <item>the new one is written whole into checkpoint.tmp, which nothing ever reads;</item>
/// <item>checkpoint/ is renamed to checkpoint-step-P (a kill here leaves no checkpoint/: a resume takes the newest
/// step folder, which is P);</item>
/// <item>checkpoint.tmp is renamed to checkpoint/;</item>
/// <item>step folders beyond N-1 are removed.</item>
/// </list>
/// With N = 1 the previous checkpoint is kept until the new one is in place, so a save needs room for two; with N ≥ 2
/// for N. A resume takes the newest that passes <see cref="CheckpointCheck"/>, naming those it skipped.
/// </summary>
public static class CheckpointSet
{
    public const string NewestFolder = "checkpoint";
    public const string TemporaryFolder = "checkpoint.tmp";
    const string StepPrefix = "checkpoint-step-";
    /// <summary>What earlier versions' swap left when killed between its two renames: a complete checkpoint.</summary>
    const string SwappedOutFolder = "checkpoint.old";
    const string DeletingSuffix = ".deleting";
    static readonly Regex StepFolder = new(@"^checkpoint-step-(\d+)$", RegexOptions.CultureInvariant);

    /// <summary>One checkpoint folder of a run, with what <see cref="CheckpointCheck"/> found.</summary>
    public sealed record Entry(string Path, int? Step, string? Problem)
    {
        public bool IsGood => Problem == null;
        public string Name => System.IO.Path.GetFileName(Path);
    }

    /// <summary>The folder an older checkpoint of <paramref name="step"/> is kept in.</summary>
    public static string StepFolderName(int step) => StepPrefix + step.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>Whether <paramref name="run"/> has any checkpoint folder, good or not.</summary>
    public static bool HasAny(string run) => List(run).Count > 0;

    /// <summary>
    /// The run's checkpoint folders, newest first: checkpoint/ (the newest by construction), then the others by step.
    /// checkpoint.tmp and folders being deleted are never listed: they are never complete by contract.
    /// </summary>
    public static IReadOnlyList<Entry> List(string run)
    {
        if (!Directory.Exists(run)) return [];
        var entries = new List<Entry>();
        string newest = Path.Combine(run, NewestFolder);
        if (Directory.Exists(newest)) entries.Add(Checked(newest));
        var others = new List<(Entry Entry, int Order)>();
        foreach (string folder in Directory.EnumerateDirectories(run))
        {
            string name = Path.GetFileName(folder);
            var match = StepFolder.Match(name);
            if (!match.Success && name != SwappedOutFolder) continue;
            var entry = Checked(folder);
            int? named = match.Success && int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
            others.Add((entry, entry.Step ?? named ?? -1));
        }
        entries.AddRange(others.OrderByDescending(o => o.Order).ThenBy(o => o.Entry.Name, StringComparer.Ordinal).Select(o => o.Entry));
        return entries;
    }

    static Entry Checked(string folder)
    {
        var check = CheckpointCheck.Of(folder);
        return new Entry(folder, check.Step, check.Problem);
    }

    /// <summary>The checkpoint a resume of <paramref name="run"/> takes: the newest good one (null: none), and the
    /// broken ones newer than it, skipped.</summary>
    public sealed record Choice(Entry? Chosen, IReadOnlyList<Entry> Skipped);

    public static Choice Choose(string run)
    {
        var skipped = new List<Entry>();
        foreach (var entry in List(run))
        {
            if (entry.IsGood) return new Choice(entry, skipped);
            skipped.Add(entry);
        }
        return new Choice(null, skipped);
    }

    /// <summary>
    /// Saves a checkpoint of <paramref name="step"/> into <paramref name="run"/> and rotates: afterwards checkpoint/ holds
    /// it and the <paramref name="keep"/> - 1 newest good checkpoints of this run's line are kept as step folders.
    /// </summary>
    /// <param name="continuesFrom">The step of the checkpoint this run continues from (the last it saved, or the one it
    /// resumed); -1 for a new run. Checkpoints past it were left by another line of the run (one resumed from an
    /// older checkpoint on purpose, or whose newest was broken) and are removed with the broken ones.</param>
    /// <param name="bytesNeeded">What the checkpoint's files will take, checked against the free space first.</param>
    /// <param name="write">Writes the checkpoint's files into the (empty, temporary) folder it is given.</param>
    /// <exception cref="EngineException">The disk has too little room, or a write failed: the temporary folder is
    /// removed and the message names the step, the bytes needed and free, and the checkpoint still intact.</exception>
    public static void Save(string run, int step, int keep, int continuesFrom, long bytesNeeded, Action<string> write)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), keep, "at least one checkpoint is kept");
        Directory.CreateDirectory(run);
        var entries = List(run);
        var line = entries.Where(e => e.IsGood && e.Step <= continuesFrom).ToList();
        // While the new one is written: the newest N-1 (the rest would go after the save anyway), at least one.
        var kept = line.Take(Math.Max(1, keep - 1)).ToList();
        var removed = entries.Except(kept).Select(e => e.Path).Concat(Leftovers(run)).ToList();
        var previous = kept.FirstOrDefault();
        string temporary = Path.Combine(run, TemporaryFolder);

        long? free = DiskSpace.FreeBytes(run);
        long reclaimed = removed.Sum(DiskSpace.SizeOf);
        if (free is long f && f + reclaimed < bytesNeeded)
            throw Failure(run, step, keep, previous, bytesNeeded, free, reclaimed, "there is not enough free space", null);
        try
        {
            foreach (string folder in removed) Remove(folder);
            Directory.CreateDirectory(temporary);
            write(temporary);
            DiskSpace.Charge(DiskSpace.SizeOf(temporary));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryRemove(temporary);
            throw Failure(run, step, keep, previous, bytesNeeded, DiskSpace.FreeBytes(run), 0, $"writing {temporary} failed: {e.Message}", e);
        }

        string newest = Path.Combine(run, NewestFolder);
        try
        {
            if (Directory.Exists(newest))
            {
                // Only a good checkpoint of this line is still here as checkpoint/ (others were removed above).
                string older = Path.Combine(run, StepFolderName(previous!.Step!.Value));
                if (Directory.Exists(older)) Remove(older); // the same step twice: the one in checkpoint/ stays
                Directory.Move(newest, older);
                kept[0] = previous with { Path = older };
            }
            Directory.Move(temporary, newest);
            foreach (var old in kept.Skip(keep - 1)) Remove(old.Path);
            // A checkpoint.old of an earlier version that is kept moves to its step's name, so the next save rotates it.
            foreach (var old in kept.Take(keep - 1).Where(k => k.Name == SwappedOutFolder))
                if (!Directory.Exists(Path.Combine(run, StepFolderName(old.Step!.Value)))) Directory.Move(old.Path, Path.Combine(run, StepFolderName(old.Step!.Value)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure(run, step, keep, previous, bytesNeeded, DiskSpace.FreeBytes(run), 0, $"moving the checkpoint into place failed: {e.Message}", e);
        }
    }

    /// <summary>What a kill left half done: the temporary folder and folders being deleted.</summary>
    static IEnumerable<string> Leftovers(string run) =>
        Directory.EnumerateDirectories(run).Where(d => Path.GetFileName(d) == TemporaryFolder || d.EndsWith(DeletingSuffix, StringComparison.Ordinal)).ToList();

    /// <summary>Removes a folder by renaming it out of the way first, so a kill mid-delete leaves nothing that looks
    /// like a checkpoint.</summary>
    static void Remove(string folder)
    {
        if (!Directory.Exists(folder)) return;
        string doomed = folder.EndsWith(DeletingSuffix, StringComparison.Ordinal) ? folder : folder + DeletingSuffix;
        if (doomed != folder)
        {
            if (Directory.Exists(doomed)) Directory.Delete(doomed, recursive: true);
            Directory.Move(folder, doomed);
        }
        Directory.Delete(doomed, recursive: true);
    }

    static void TryRemove(string folder)
    {
        try { Remove(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the next save removes it
    }

    static EngineException Failure(string run, int step, int keep, Entry? previous, long needed, long? free, long reclaimed, string what, Exception? inner)
    {
        string room = free is long f
            ? string.Create(CultureInfo.InvariantCulture, $"it needs about {needed:N0} bytes and the filesystem of {run} has {f:N0} free{(reclaimed > 0 ? $" (+{reclaimed:N0} from older checkpoints it would remove)" : "")}")
            : string.Create(CultureInfo.InvariantCulture, $"it needs about {needed:N0} bytes (the free space of {run} cannot be told)");
        if (previous is not { Step: int p })
            return new EngineException(EngineOption.Out, $"step {step}: cannot save a checkpoint: {what}; {room}. There is no checkpoint yet: free some space and start again with the same {EngineOption.Out} {run} (or choose another {EngineOption.Out})", inner);
        // While a new checkpoint is written, max(1, N-1) older ones stay: fewer kept frees room only above 2.
        return keep > 2
            ? new EngineException(EngineOption.KeepCheckpoints, $"step {step}: cannot save a checkpoint: {what}; {room}. The previous checkpoint (step {p}) is intact in {run}: free some space (or keep fewer than {keep} checkpoints with {EngineOption.KeepCheckpoints}) and continue with {EngineOption.Resume} {run}", inner)
            : new EngineException(EngineOption.Resume, $"step {step}: cannot save a checkpoint: {what}; {room} (the previous checkpoint stays until the new one is whole). The previous checkpoint (step {p}) is intact in {run}: free some space and continue with {EngineOption.Resume} {run}", inner);
    }
}
