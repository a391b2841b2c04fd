using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine;
using Engine.Planning;
using System.CommandLine;
using Trainer.Cli;
using Trainer.Plots;

namespace Trainer.Commands;

/// <summary>
/// `trainer scaling fit` fits Chinchilla's scaling law to runs in a CSV; `trainer scaling sweep` trains the runs
/// (an IsoFLOP grid of small models) and fits them.
/// </summary>
public static class ScalingCommand
{
    /// <summary>The flags fit and sweep share for the report; each command gets its own set.</summary>
    sealed class ReportFlags(bool sweep)
    {
        public readonly Flag<int?> Bootstrap = Flags.Int("bootstrap", "N", "bootstrap resamples for standard errors (0 = none)", "200", 0);
        public readonly Flag<string[]> Budgets = sweep
            ? Flags.List("budgets", "C,…", "compute budgets (FLOPs) of the IsoFLOP grid; each model trains D = C / 6N tokens", string.Join(",", SweepSettings.DefaultBudgets.Select(b => b.ToString("0.#e0", CultureInfo.InvariantCulture))))
            : Flags.List("budgets", "C,…", "compute budgets (FLOPs or pf-days) to report N_opt, D_opt and tokens per parameter at", "1e21,5.76e23,1e25");
        public readonly Flag<int?> Seed = Flags.Int("seed", "S", "seed of the bootstrap resamples", "1", 0);
        public readonly Flag<bool> Json = Flags.Switch("json", "print one JSON object (E, A, B, alpha, beta, standard errors, exponents, budgets)");
        public readonly Flag<string?> Plot = sweep
            ? Flags.Text("plot", "FILE.png", "where to draw the plot", "DIR/scaling.png")
            : Flags.Text("plot", "FILE.png", "draw loss against N per budget with the fitted curves and the compute-optimal frontier");

        public Option[] All => new Option[] { Bootstrap, Budgets, Seed, Json, Plot };
    }

    public static TrainerCommand Create()
    {
        var command = new TrainerCommand("scaling",
            "Scaling laws: fit Chinchilla's L(N, D) to runs (fit), or train an IsoFLOP grid of small models and fit it (sweep).",
            "trainer scaling fit|sweep …");
        command.Add(Fit());
        command.Add(Sweep());
        return command;
    }

    static TrainerCommand Fit()
    {
        var csv = Flags.Text("csv", "FILE", "runs: columns for parameters (Model Size|params), loss, and FLOPs (Training FLOP|flops) or tokens; optional budget");
        var exclude = Flags.Int("exclude-highest-loss", "K", "leave out the K runs with the highest loss (Epoch AI's fit of Chinchilla's data leaves out 5)", "0", 0);
        var report = new ReportFlags(sweep: false);
        var command = new TrainerCommand("fit",
            "Fits L(N, D) = E + A/N^α + B/D^β (Chinchilla Approach 3) and IsoFLOP parabolas (Approach 2) to runs in a CSV.",
            "trainer scaling fit --csv FILE [--exclude-highest-loss K] [--bootstrap N] [--budgets C,…] [--json] [--plot FILE.png]",
            "Approach 3: Huber loss (δ = 1e-3) on log loss, L-BFGS from Hoffmann et al.'s grid of 4500 starts. Approach 2 groups runs by their budget column, or by C in bins of 0.1 decade.")
            .With(csv, exclude).With(report.All);
        command.SetRun((p, _) =>
        {
            string path = p.Need(csv);
            var points = ScalingData.ExcludeHighestLoss(ScalingData.ReadCsv(path), p.GetValue(exclude) ?? 0);
            return Report(report, p, points, Path.GetFileName(path), defaultPlot: null);
        });
        return command;
    }

    static TrainerCommand Sweep()
    {
        var output = Flags.Text("out", "DIR", "sweep folder: runs/<run>/ for each run, runs.csv, runs.json, fit.json, scaling.png", "runs/sweep-<time>");
        var models = Flags.List("models", "LxD[xH],…", "model shapes, layers x width (x heads)",
            string.Join(",", SweepSettings.DefaultModels.Select(m => $"{m.Layers}x{m.Dim}")));
        var objective = Flags.Text("objective", "clm", "what to learn", "clm");
        var device = Flags.Choice("device", ChoiceNames.Devices, "where to train", "cpu");
        var data = Flags.Text("data", "DIR", "a folder made by `trainer prepare`; without it, the embedded corpus");
        var batch = Flags.Int("batch", "N", "sequences per step", "16", 1);
        var seq = Flags.Int("seq", "T", "tokens per sequence", "64", 1);
        var lr = Flags.Double("lr", "LR", "peak learning rate (cosine decay over each run)", "0.003", 0, 10);
        var report = new ReportFlags(sweep: true);
        var command = new TrainerCommand("sweep",
            "Trains every model × compute budget (an IsoFLOP grid), records each run, fits the scaling law and plots it.",
            "trainer scaling sweep [--out DIR] [--budgets C,…] [--models LxD,…] [--objective clm] [--device cpu] [--data DIR] [--batch N] [--seq T]",
            "The default grid takes about 14 minutes on 2 CPU cores (docs/planning.md). Ctrl-C stops after the current run; runs.csv keeps the finished ones.")
            .With(output, models, objective, device, data, batch, seq, lr).With(report.All);
        command.SetRun((p, cancellation) =>
        {
            // Only clm trains in a sweep; the word is checked here so the others get this message, not a parse error.
            string named = p.GetValue(objective) ?? "clm";
            if (named != "clm") throw new EngineException($"--objective {named}: only clm trains in this build (mlm and span come with the BERT and T5 families)");
            var settings = new SweepSettings
            {
                Out = p.GetValue(output) ?? Path.Combine("runs", "sweep-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)),
                Budgets = Budgets(report, p, SweepSettings.DefaultBudgets),
                Models = p.GetValue(models) is { Length: > 0 } shapes
                    ? shapes.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(SweepModel.Parse).ToList()
                    : SweepSettings.DefaultModels,
                Objective = Engine.Objectives.TrainingObjective.Clm,
                Device = p.GetValue(device) ?? Engine.Backends.DeviceKind.Cpu,
                Data = p.GetValue(data),
                EmbeddedText = EmbeddedCorpus.Text,
                Batch = p.GetValue(batch) ?? 16,
                Sequence = p.GetValue(seq) ?? 64,
                LearningRate = (float)(p.GetValue(lr) ?? 3e-3),
            };
            var timer = Stopwatch.StartNew();
            var runs = ScalingSweep.Run(settings, line => Console.Error.WriteLine(line), cancellation, LossPlot.Write);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{runs.Count} runs in {timer.Elapsed.TotalMinutes:F1} minutes; runs.csv and runs.json in {Path.GetFullPath(settings.Out)}"));
            return Report(report, p, ScalingSweep.Points(runs), "sweep", defaultPlot: Path.Combine(settings.Out, "scaling.png"), fitJson: Path.Combine(settings.Out, "fit.json"));
        });
        return command;
    }

    static IReadOnlyList<double> Budgets(ReportFlags f, ParseResult p, IReadOnlyList<double> fallback) =>
        p.GetValue(f.Budgets) is { Length: > 0 } given
            ? given.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(v => Quantity.ParseFlops(v, EngineOption.Budgets)).ToList()
            : fallback;

    static int Report(ReportFlags f, ParseResult p, IReadOnlyList<ScalingPoint> points, string source, string? defaultPlot, string? fitJson = null)
    {
        var report = ScalingAnalysis.Run(points, p.GetValue(f.Bootstrap) ?? 200, (ulong)(p.GetValue(f.Seed) ?? 1), Budgets(f, p, ScalingAnalysis.DefaultBudgets));
        var json = ToJson(report);
        if (fitJson != null) File.WriteAllText(fitJson, json.ToJsonString(PlanCommand.Indented));
        string? plot = p.GetValue(f.Plot) ?? defaultPlot;
        if (plot != null) ScalingPlot.Write(points, report.Law, plot, $"Scaling law fit to {source} ({points.Count} runs)");
        Console.WriteLine(p.GetValue(f.Json) ? json.ToJsonString(PlanCommand.Indented) : Table(report, plot));
        return 0;
    }

    static string G(double x, string format = "G5") => x.ToString(format, CultureInfo.InvariantCulture);

    public static string Table(ScalingReport r, string? plot)
    {
        var text = new StringBuilder();
        var law = r.Law;
        bool se = r.LawErrors.Length == 7;
        string Err(int i) => se ? " ± " + G(r.LawErrors[i], "G3") : "";
        text.AppendLine($"Approach 3: L(N, D) = E + A/N^α + B/D^β on {r.Runs} runs (Huber δ = 1e-3 on log loss, L-BFGS from 4500 starts{(se ? $", standard errors from {r.Resamples} bootstrap resamples" : "")})");
        text.AppendLine($"  E     = {G(law.E),-10}{Err(0)}");
        text.AppendLine($"  A     = {G(law.A),-10}{Err(1)}");
        text.AppendLine($"  B     = {G(law.B),-10}{Err(2)}");
        text.AppendLine($"  alpha = {G(law.Alpha),-10}{Err(3)}");
        text.AppendLine($"  beta  = {G(law.Beta),-10}{Err(4)}");
        text.AppendLine($"  compute-optimal exponents: N_opt ∝ C^{G(law.ParameterExponent, "F3")}{Err(5)}, D_opt ∝ C^{G(law.TokenExponent, "F3")}{Err(6)}");
        text.AppendLine();
        if (r.IsoFlop is { } iso)
        {
            bool ise = r.IsoFlopErrors.Length == 2;
            text.AppendLine($"Approach 2: IsoFLOP parabolas ({iso.Profiles.Count} profiles with a minimum inside the sizes tried)");
            foreach (var profile in iso.Profiles)
                text.AppendLine($"  C = {G(profile.Budget, "0.00e0")}: {profile.Runs,3} runs, N_opt = {Quantity.Short(profile.OptimalParameters)}, loss at the minimum {G(profile.OptimalLoss, "F3")}");
            text.AppendLine($"  N_opt ∝ C^{G(iso.ParameterExponent, "F3")}{(ise ? " ± " + G(r.IsoFlopErrors[0], "F3") : "")}, D_opt ∝ C^{G(iso.TokenExponent, "F3")}{(ise ? " ± " + G(r.IsoFlopErrors[1], "F3") : "")}");
        }
        else text.AppendLine($"Approach 2: not fitted: {r.IsoFlopNote}");
        text.AppendLine();
        text.AppendLine("Compute-optimal allocation              Approach 3                              Approach 2");
        foreach (var b in r.Budgets)
            text.AppendLine($"  C = {G(b.Flops, "0.00e0"),-10} N = {Quantity.Short(b.Parameters),-8} D = {Quantity.Short(b.Tokens),-8} {G(b.TokensPerParameter, "F1"),6} tokens/param   "
                + (b.IsoFlopParameters is double n && b.IsoFlopTokens is double d ? $"N = {Quantity.Short(n),-8} D = {Quantity.Short(d),-8} {G(d / n, "F1"),6} tokens/param" : "—"));
        if (plot != null) text.AppendLine().AppendLine($"plot: {plot}");
        return text.ToString().TrimEnd();
    }

    /// <summary>JSON has no infinities: a degenerate fit (too few runs) writes null there.</summary>
    static JsonNode? N(double x) => double.IsFinite(x) ? JsonValue.Create(x) : null;

    public static JsonObject ToJson(ScalingReport r)
    {
        var law = r.Law;
        var json = new JsonObject
        {
            ["runs"] = r.Runs,
            ["E"] = N(law.E), ["A"] = N(law.A), ["B"] = N(law.B), ["alpha"] = N(law.Alpha), ["beta"] = N(law.Beta),
            ["a"] = N(law.ParameterExponent), ["b"] = N(law.TokenExponent),
            ["objective"] = N(r.Objective),
            ["bootstrap_resamples"] = r.Resamples,
        };
        if (r.LawErrors.Length == 7)
            json["standard_errors"] = new JsonObject
            {
                ["E"] = N(r.LawErrors[0]), ["A"] = N(r.LawErrors[1]), ["B"] = N(r.LawErrors[2]), ["alpha"] = N(r.LawErrors[3]), ["beta"] = N(r.LawErrors[4]),
                ["a"] = N(r.LawErrors[5]), ["b"] = N(r.LawErrors[6]),
            };
        if (r.IsoFlop is { } iso)
        {
            var profiles = new JsonArray();
            foreach (var profile in iso.Profiles)
                profiles.Add(new JsonObject { ["budget"] = N(profile.Budget), ["runs"] = profile.Runs, ["optimal_params"] = N(profile.OptimalParameters), ["optimal_loss"] = N(profile.OptimalLoss) });
            json["isoflop"] = new JsonObject
            {
                ["a"] = N(iso.ParameterExponent), ["b"] = N(iso.TokenExponent),
                ["a_se"] = r.IsoFlopErrors.Length == 2 ? N(r.IsoFlopErrors[0]) : null,
                ["b_se"] = r.IsoFlopErrors.Length == 2 ? N(r.IsoFlopErrors[1]) : null,
                ["profiles"] = profiles,
            };
        }
        else json["isoflop"] = new JsonObject { ["note"] = r.IsoFlopNote };
        var budgets = new JsonArray();
        foreach (var b in r.Budgets)
            budgets.Add(new JsonObject
            {
                ["flops"] = N(b.Flops), ["params"] = N(b.Parameters), ["tokens"] = N(b.Tokens), ["tokens_per_param"] = N(b.TokensPerParameter), ["loss"] = N(b.Loss),
                ["isoflop_params"] = b.IsoFlopParameters is double ip ? N(ip) : null, ["isoflop_tokens"] = b.IsoFlopTokens is double it ? N(it) : null,
            });
        json["budgets"] = budgets;
        return json;
    }
}
