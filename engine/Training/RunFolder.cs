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
    public string CheckpointPath => System.IO.Path.Combine(Path, "checkpoint");

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
        File.AppendAllText(MetricsPath, line.ToJsonString() + "\n");
    }

    /// <summary>The validation loss before training (step 0).</summary>
    public void AppendValidation(int step, double loss, IReadOnlyDictionary<string, double>? bySet = null)
    {
        var line = new JsonObject { ["step"] = step, ["val_loss"] = Finite(loss) };
        if (bySet != null) line["val_loss_by_set"] = BySet(bySet);
        File.AppendAllText(MetricsPath, line.ToJsonString() + "\n");
    }

    static JsonObject BySet(IReadOnlyDictionary<string, double> losses) => new(losses.Select(l => KeyValuePair.Create(l.Key, Finite(l.Value))));

    static JsonNode? Finite(double x) => double.IsFinite(x) ? JsonValue.Create(x) : JsonValue.Create(x.ToString(CultureInfo.InvariantCulture));

    public void Finish(TrainingSummary summary)
    {
        File.WriteAllText(SummaryPath, JsonSerializer.Serialize(summary, Checkpoint.Json));
    }
}
