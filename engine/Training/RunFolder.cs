using System.Globalization;
using Engine.Objectives;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Checkpoints;

namespace Engine.Training;

/// <summary>
/// The folder a run leaves: metrics.jsonl (one object per step; validation points carry val_loss), summary.json,
/// loss.png and checkpoint/. A resumed run appends to the same files. The engine writes the numbers; loss.png is
/// drawn from metrics.jsonl by the trainer (Trainer.Plots.LossPlot), so the engine carries no plotting library.
/// </summary>
public sealed class RunFolder
{
    public string Path { get; }
    public string MetricsPath => System.IO.Path.Combine(Path, "metrics.jsonl");
    public string SummaryPath => System.IO.Path.Combine(Path, "summary.json");
    public string PlotPath => System.IO.Path.Combine(Path, "loss.png");
    /// <summary>The newest checkpoint (older ones kept beside it: <see cref="CheckpointSet"/>).</summary>
    public string CheckpointPath => System.IO.Path.Combine(Path, CheckpointSet.NewestFolder);

    /// <summary>The step of the newest good checkpoint of this run (saved by it, or resumed); null before the first.
    /// Error messages name it as the checkpoint that is intact.</summary>
    public int? CheckpointStep { get; set; }

    public RunFolder(string path) : this(path, writer: true) { }

    /// <summary>The folder of a run; only the writer (rank 0 of a distributed run) creates and probes it.</summary>
    public static RunFolder For(string path, bool writer) => new(path, writer);

    RunFolder(string path, bool writer)
    {
        Path = System.IO.Path.GetFullPath(path);
        if (!writer) return;
        try
        {
            Directory.CreateDirectory(Path);
            string probe = System.IO.Path.Combine(Path, ".write-test");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new EngineException(EngineOption.Out, $"{EngineOption.Out} {path}: cannot write there ({e.Message}); choose a folder you can write to");
        }
    }

    /// <summary>
    /// Drops the lines of metrics.jsonl after <paramref name="step"/>, the step a resumed checkpoint holds: a run
    /// stopped between a step's metrics line and its checkpoint redoes that step, and its line must appear once.
    /// Rewritten through a temporary file and a rename, so a crash here leaves the old file or the new one.
    /// </summary>
    /// <returns>How many lines were dropped.</returns>
    public int TruncateMetricsAfter(int step)
    {
        if (!File.Exists(MetricsPath)) return 0;
        var kept = new List<string>();
        int dropped = 0;
        foreach (string line in File.ReadLines(MetricsPath))
        {
            int? lineStep = null;
            try { lineStep = JsonNode.Parse(line)?["step"]?.GetValue<int>(); }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
            // A line cut short by a kill, or one past the checkpoint, goes.
            if (lineStep is int s && s <= step) kept.Add(line);
            else dropped++;
        }
        if (dropped == 0) return 0;
        string temporary = MetricsPath + ".tmp";
        File.WriteAllLines(temporary, kept);
        File.Move(temporary, MetricsPath, overwrite: true);
        return dropped;
    }

    /// <summary>
    /// Saves a checkpoint of <paramref name="state"/>'s step and rotates the older ones (keeping
    /// <see cref="TrainingSettings.KeepCheckpoints"/>); a full disk or a failed write ends in an
    /// <see cref="EngineException"/> that names the step, the bytes and the checkpoint still intact.
    /// </summary>
    public void SaveCheckpoint(Models.TransformerConfig config, Tensors.ParameterLayout layout, Checkpoint.Contents contents, TrainerState state, Tokenizers.ITokenizer? tokenizer)
    {
        CheckpointSet.Save(Path, state.Step, state.Settings.KeepCheckpoints, CheckpointStep ?? -1, Checkpoint.BytesNeeded(layout, contents),
            temporary => Checkpoint.Write(temporary, config, layout, contents, state, tokenizer));
        CheckpointStep = state.Step;
    }

    /// <summary>
    /// What a new run in <paramref name="path"/> replaces when the folder holds a run without a complete checkpoint
    /// (its first save failed, or it was stopped before): null when there is nothing there. The caller has made sure
    /// no good checkpoint is there.
    /// </summary>
    public static OptionMessage? PartialRun(string path)
    {
        string metrics = System.IO.Path.Combine(path, "metrics.jsonl");
        bool broken = CheckpointSet.HasAny(path);
        if (!File.Exists(metrics) && !broken) return null;
        int lines = File.Exists(metrics) ? File.ReadLines(metrics).Count() : 0;
        return Note($"{EngineOption.Out} {path} holds a run without a complete checkpoint{(broken ? " (only broken ones, removed at the first save)" : "")}: starting it over; its metrics.jsonl ({lines} lines) is replaced");
    }

    static OptionMessage Note(OptionMessageBuilder text) => text.Build();

    /// <summary>Clears what a partial run left (<see cref="PartialRun"/>), so the new run's metrics start at step 0.</summary>
    public void StartOver()
    {
        foreach (string file in new[] { MetricsPath, SummaryPath, PlotPath })
            if (File.Exists(file)) File.Delete(file);
    }

    /// <summary>A new folder name under runs/ from the objective and the time.</summary>
    public static string DefaultPath(TrainingObjective objective) =>
        System.IO.Path.Combine("runs", $"{objective.Name()}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");

    public void AppendStep(StepMetrics m)
    {
        var line = new JsonObject
        {
            ["step"] = m.Step,
            ["loss"] = Finite(m.Loss),
            ["lr"] = m.LearningRate,
            ["grad_norm"] = Finite(m.GradNorm),
            ["tokens_per_s"] = Math.Round(m.TokensPerSecond, 1),
            ["step_s"] = Math.Round(m.StepSeconds, 4),
        };
        if (m.ValidationLoss is double v) line["val_loss"] = Finite(v);
        if (m.ValidationLossBySet is { } sets) line["val_loss_by_set"] = BySet(sets);
        if (m.TokensBySource is { } sources) line["tokens_by_source"] = new JsonObject(sources.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)s.Value)));
        if (m.LossScale is float scale)
        {
            line["loss_scale"] = scale;
            line["skipped"] = m.Skipped;
            line["skipped_steps"] = m.SkippedSteps;
        }
        Append(line, m.Step);
    }

    /// <summary>The validation loss before training (step 0).</summary>
    public void AppendValidation(int step, double loss, IReadOnlyDictionary<string, double>? bySet = null)
    {
        var line = new JsonObject { ["step"] = step, ["val_loss"] = Finite(loss) };
        if (bySet != null) line["val_loss_by_set"] = BySet(bySet);
        Append(line, step);
    }

    /// <summary>Appends one line; a failed write (disk full) takes back what it wrote, so no half line stays, and ends
    /// the run with an error that says what is safe.</summary>
    void Append(JsonObject line, int step)
    {
        string text = line.ToJsonString() + "\n";
        long before = File.Exists(MetricsPath) ? new FileInfo(MetricsPath).Length : 0;
        try
        {
            DiskSpace.Charge(System.Text.Encoding.UTF8.GetByteCount(text));
            File.AppendAllText(MetricsPath, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { if (File.Exists(MetricsPath)) using (var f = new FileStream(MetricsPath, FileMode.Open, FileAccess.Write)) f.SetLength(before); }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException) { } // a resume drops a half line anyway
            throw WriteFailure(MetricsPath, step, e);
        }
    }

    EngineException WriteFailure(string file, int step, Exception e) => CheckpointStep is int saved
        ? new EngineException(EngineOption.Resume, $"step {step}: writing {file} failed ({e.Message}; {FreeSpace()}). The previous checkpoint (step {saved}) is intact: free some space and continue with {EngineOption.Resume} {Path}", e)
        : new EngineException(EngineOption.Out, $"step {step}: writing {file} failed ({e.Message}; {FreeSpace()}). There is no checkpoint yet: free some space and start again with the same {EngineOption.Out} {Path}", e);

    string FreeSpace() => DiskSpace.FreeBytes(Path) is long free ? string.Create(CultureInfo.InvariantCulture, $"{free:N0} bytes free there") : "free space unknown";

    static JsonObject BySet(IReadOnlyDictionary<string, double> losses) => new(losses.Select(l => KeyValuePair.Create(l.Key, Finite(l.Value))));

    static JsonNode? Finite(double x) => double.IsFinite(x) ? JsonValue.Create(x) : JsonValue.Create(x.ToString(CultureInfo.InvariantCulture));

    public void Finish(TrainingSummary summary)
    {
        try { File.WriteAllText(SummaryPath, JsonSerializer.Serialize(summary, Checkpoint.Json)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(SummaryPath); } catch (Exception again) when (again is IOException or UnauthorizedAccessException) { }
            throw WriteFailure(SummaryPath, summary.Steps, e);
        }
    }
}
