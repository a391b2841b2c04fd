using Engine.Planning;

namespace Trainer.Plots;

/// <summary>
/// scaling.png: loss against model size, one colour per compute budget (the runs, and the fitted law along each
/// IsoFLOP line), with the law's compute-optimal frontier through them. x is log₁₀ N.
/// </summary>
public static class ScalingPlot
{
    public static void Write(IReadOnlyList<ScalingPoint> points, ChinchillaLaw law, string pngPath, string title)
    {
        var plot = new ScottPlot.Plot();
        var groups = IsoFlopFit.Group(points);
        var palette = new ScottPlot.Palettes.Category10();
        // Digitised data have many bins: label every one only when there are few.
        bool label = groups.Count <= 10;
        for (int g = 0; g < groups.Count; g++)
        {
            var color = palette.GetColor(g);
            var members = groups[g].Select(i => points[i]).ToList();
            var scatter = plot.Add.ScatterPoints(members.Select(p => Math.Log10(p.Parameters)).ToArray(), members.Select(p => p.Loss).ToArray());
            scatter.Color = color;
            scatter.MarkerSize = 7;
            if (label) scatter.LegendText = $"C = {groups[g].Key:0.##e0} FLOPs";
            double c = groups[g].Key;
            double lo = Math.Log10(members.Min(p => p.Parameters)) - 0.3, hi = Math.Log10(members.Max(p => p.Parameters)) + 0.3;
            var xs = Enumerable.Range(0, 60).Select(i => lo + (hi - lo) * i / 59).ToArray();
            var curve = xs.Select(x => (X: x, Y: law.Loss(Math.Pow(10, x), c / (6 * Math.Pow(10, x))))).Where(t => double.IsFinite(t.Y)).ToArray();
            if (curve.Length < 2) continue; // a degenerate fit (too few runs) has no curve to draw
            var line = plot.Add.ScatterLine(curve.Select(t => t.X).ToArray(), curve.Select(t => t.Y).ToArray());
            line.Color = color.WithAlpha(0.6);
            line.LineWidth = 1.5f;
        }
        double cMin = points.Min(p => p.Flops), cMax = points.Max(p => p.Flops);
        var frontier = Enumerable.Range(0, 40).Select(i => Math.Pow(10, Math.Log10(cMin) + (Math.Log10(cMax) - Math.Log10(cMin)) * i / 39.0))
            .Select(c => law.Optimal(c)).Where(o => double.IsFinite(o.Parameters) && o.Parameters > 0 && double.IsFinite(law.Loss(o.Parameters, o.Tokens))).ToList();
        if (frontier.Count >= 2)
        {
        var f = plot.Add.ScatterLine(frontier.Select(o => Math.Log10(o.Parameters)).ToArray(), frontier.Select(o => law.Loss(o.Parameters, o.Tokens)).ToArray());
        f.Color = ScottPlot.Colors.Black;
        f.LineWidth = 2.5f;
        f.LinePattern = ScottPlot.LinePattern.Dashed;
        f.LegendText = "compute-optimal frontier (fit)";
        }
        plot.Title(title);
        plot.XLabel("log10 parameters N");
        plot.YLabel("loss (nats/token)");
        plot.ShowLegend();
        string temporary = pngPath + ".tmp.png";
        plot.SavePng(temporary, 1000, 600);
        File.Move(temporary, pngPath, overwrite: true);
    }
}
