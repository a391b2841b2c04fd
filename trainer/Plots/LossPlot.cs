using System.Text.Json.Nodes;
using Engine.Training;

namespace Trainer.Plots;

/// <summary>
/// loss.png: training and validation loss against step, drawn from metrics.jsonl, with one curve per named
/// validation set (--eval-data) beside the run's own. Drawn here, after the run, rather
/// than by the engine, so the engine needs no plotting library; a resumed run's file holds the whole curve.
/// </summary>
public static class LossPlot
{
    /// <summary>Draws the folder's loss.png; nothing where this rank does not write the folder (no metrics.jsonl).</summary>
    public static void Write(RunFolder folder)
    {
        if (File.Exists(folder.MetricsPath)) Write(folder.MetricsPath, folder.PlotPath);
    }

    public static void Write(string metricsPath, string pngPath)
    {
        var trainX = new List<double>(); var trainY = new List<double>();
        var valX = new List<double>(); var valY = new List<double>();
        // Each named set's points, in the order the sets first appear.
        var sets = new Dictionary<string, (List<double> X, List<double> Y)>();
        foreach (var line in File.ReadLines(metricsPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var o = JsonNode.Parse(line)!.AsObject();
            double step = o["step"]!.GetValue<double>();
            if (o["loss"] is JsonValue l && l.TryGetValue(out double loss)) { trainX.Add(step); trainY.Add(loss); }
            if (o["val_loss"] is JsonValue v && v.TryGetValue(out double val)) { valX.Add(step); valY.Add(val); }
            if (o["val_loss_by_set"] is JsonObject bySet)
                foreach (var (name, node) in bySet)
                {
                    if (node is not JsonValue value || !value.TryGetValue(out double setLoss)) continue;
                    if (!sets.TryGetValue(name, out var points)) sets[name] = points = (new List<double>(), new List<double>());
                    points.X.Add(step); points.Y.Add(setLoss);
                }
        }
        var plot = new ScottPlot.Plot();
        if (trainX.Count > 0) plot.Add.ScatterLine(trainX.ToArray(), trainY.ToArray()).LegendText = "train";
        if (valX.Count > 0)
        {
            var s = plot.Add.Scatter(valX.ToArray(), valY.ToArray());
            s.LegendText = "validation";
            s.MarkerSize = 6;
        }
        foreach (var (name, points) in sets)
        {
            var s = plot.Add.Scatter(points.X.ToArray(), points.Y.ToArray());
            s.LegendText = $"validation: {name}";
            s.MarkerSize = 6;
        }
        plot.Title("Loss");
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend();
        string temporary = pngPath + ".tmp.png";
        plot.SavePng(temporary, 900, 500);
        File.Move(temporary, pngPath, overwrite: true);
    }
}
