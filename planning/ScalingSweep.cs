using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Data;
using Engine.Models;
using Engine.Tokenizers;
using Engine.Training;

namespace Engine.Planning;

/// <summary>One model shape of a sweep: layers × width, heads.</summary>
public sealed record SweepModel(int Layers, int Dim, int Heads)
{
    /// <summary>"2x64" (heads = width/32, at least 1) or "2x64x2".</summary>
    public static SweepModel Parse(string text)
    {
        var parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length is < 2 or > 3 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0))
            throw new EngineException(EngineOption.SweepModels, $"{EngineOption.SweepModels} {text}: write each model as LAYERSxWIDTH or LAYERSxWIDTHxHEADS, e.g. {EngineOption.SweepModels} 2x64 4x128x4");
        int layers = int.Parse(parts[0], CultureInfo.InvariantCulture), dim = int.Parse(parts[1], CultureInfo.InvariantCulture);
        int heads = parts.Length == 3 ? int.Parse(parts[2], CultureInfo.InvariantCulture) : Math.Max(1, dim / 32);
        if (dim % heads != 0) throw new EngineException(EngineOption.SweepModels, $"{EngineOption.SweepModels} {text}: {heads} heads do not divide width {dim}");
        return new SweepModel(layers, dim, heads);
    }

    public override string ToString() => $"{Layers}x{Dim}x{Heads}";
}

/// <summary>What to sweep: every model at every compute budget (an IsoFLOP design), trained the same way.</summary>
public sealed record SweepSettings
{
    /// <summary>
    /// The default CPU sweep: five sizes from 23k to 0.83M parameters at three budgets a factor 3 apart. Measured on
    /// the idle 2-core machine (2026-11-28): 16.7 minutes for the 15 runs, inside the 30 the issue allows, and every
    /// budget's best size lies inside the grid (2x48 at 1.2e12, 2x64 at 3.6e12), so the IsoFLOP parabolas have
    /// interior minima. The smaller budgets tried first (1e11–4e11, 2.4 minutes) left the optimum below the smallest
    /// model (docs/planning.md).
    /// </summary>
    public static readonly double[] DefaultBudgets = { 4e11, 1.2e12, 3.6e12 };
    public static readonly SweepModel[] DefaultModels = { new(1, 32, 1), new(2, 48, 2), new(2, 64, 2), new(3, 96, 3), new(4, 128, 4) };

    public IReadOnlyList<double> Budgets { get; init; } = DefaultBudgets;
    public IReadOnlyList<SweepModel> Models { get; init; } = DefaultModels;
    public Objectives.TrainingObjective Objective { get; init; } = Objectives.TrainingObjective.Clm;
    public Backends.DeviceKind Device { get; init; } = Backends.DeviceKind.Cpu;
    /// <summary>A prepared data folder; null = <see cref="EmbeddedText"/>.</summary>
    public string? Data { get; init; }
    /// <summary>The text the runs train on without <see cref="Data"/> (<see cref="TrainOptions.EmbeddedText"/>).</summary>
    public Func<EmbeddedText>? EmbeddedText { get; init; }
    public int Batch { get; init; } = 16;
    public int Sequence { get; init; } = 64;
    public float LearningRate { get; init; } = 3e-3f;
    public int EvalBatches { get; init; } = 8;
    public ulong Seed { get; init; } = 1337;
    public required string Out { get; init; }
}

/// <summary>One finished run of a sweep, as runs.csv and runs.json record it.</summary>
public sealed record SweepRun(string Name, int Layers, int Dim, int Heads, long Parameters, double Budget, long Tokens, double Flops, int Steps,
    double TrainLoss, double ValidationLoss, double Seconds, double TokensPerSecond);

/// <summary>
/// `trainer scaling sweep`: trains every model × budget with the ordinary training job (one run folder each), with
/// steps = budget / (6·N·tokens per step) so the cosine schedule spans each whole run, as Chinchilla's did. Then it
/// fits Approaches 3 and 2 to the final validation losses and plots them.
/// </summary>
public static class ScalingSweep
{
    /// <param name="finished">Called with each run's folder once it has trained (the trainer draws its loss plot there).</param>
    public static IReadOnlyList<SweepRun> Run(SweepSettings s, Action<string>? log = null, CancellationToken cancellation = default, Action<RunFolder>? finished = null)
    {
        if (s.Budgets.Count == 0 || s.Models.Count == 0) throw new EngineException(EngineOption.Budgets, $"{EngineOption.Budgets} and {EngineOption.SweepModels} each need at least one value");
        if (s.Batch < 1 || s.Sequence < 1) throw new EngineException(EngineOption.GlobalBatch, $"{EngineOption.GlobalBatch} and {EngineOption.SequenceLength} must be positive (got {s.Batch}, {s.Sequence})");
        Directory.CreateDirectory(s.Out);
        if (File.Exists(Path.Combine(s.Out, "runs.csv")))
            throw new EngineException(EngineOption.Out, $"{EngineOption.Out} {s.Out} already holds a sweep (runs.csv): choose a new {EngineOption.Out}, or fit it with `trainer scaling fit {EngineOption.ScalingCsv} {Path.Combine(s.Out, "runs.csv")}`");
        int vocab = VocabularyOf(s.Data);
        var runs = new List<SweepRun>();
        long tokensPerStep = (long)s.Batch * s.Sequence;
        foreach (double budget in s.Budgets.OrderBy(b => b))
        foreach (var m in s.Models)
        {
            cancellation.ThrowIfCancellationRequested();
            long n = ParametersOf(m, vocab, s.Sequence);
            int steps = (int)Math.Max(1, Math.Round(budget / (6.0 * n * tokensPerStep)));
            string name = $"C{budget:0.##e0}-{m}".Replace("+", "");
            var options = new TrainOptions
            {
                Objective = s.Objective, Model = Presets.Default, Data = s.Data, EmbeddedText = s.EmbeddedText, Device = s.Device,
                Out = Path.Combine(s.Out, "runs", name),
                Layers = m.Layers, Dim = m.Dim, Heads = m.Heads, FeedForwardDim = 4 * m.Dim, MaxPositions = s.Sequence,
                Settings = new TrainingSettings
                {
                    Steps = steps, GlobalBatch = s.Batch, MicroBatch = s.Batch, SequenceLength = s.Sequence, LearningRate = s.LearningRate,
                    WarmupSteps = Math.Min(50, steps / 10), EvalEvery = 0, EvalBatches = s.EvalBatches, Seed = s.Seed,
                },
            };
            var timer = Stopwatch.StartNew();
            using var prepared = TrainingJob.Prepare(options);
            if (prepared.Model.ParameterCount != n)
                throw new InvalidOperationException($"sweep planned {n} parameters for {m} but the engine built {prepared.Model.ParameterCount}");
            var summary = prepared.Loop.Run(cancellation);
            finished?.Invoke(prepared.Folder);
            double seconds = timer.Elapsed.TotalSeconds;
            var run = new SweepRun(name, m.Layers, m.Dim, m.Heads, n, budget, summary.Tokens, 6.0 * n * summary.Tokens, summary.Steps,
                summary.FinalTrainLoss, summary.FinalValLoss, seconds, summary.TokensPerS);
            runs.Add(run);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {n:N0} parameters, {summary.Tokens:N0} tokens ({steps} steps), validation loss {summary.FinalValLoss:F4}, {seconds:F1} s"));
            Write(s.Out, runs); // after every run, so an interrupted sweep keeps what it measured
        }
        return runs;
    }

    public static IReadOnlyList<ScalingPoint> Points(IEnumerable<SweepRun> runs) =>
        runs.Select(r => new ScalingPoint(r.Parameters, r.Tokens, r.Flops, r.ValidationLoss, r.Budget)).ToList();

    static long ParametersOf(SweepModel m, int vocab, int sequence)
    {
        var config = Presets.Get(Presets.Default) with
        {
            VocabSize = vocab, PaddedVocabSize = vocab, EndOfTextToken = vocab - 1, Layers = m.Layers, Dim = m.Dim, Heads = m.Heads,
            FeedForwardDim = 4 * m.Dim, MaxPositions = sequence,
        };
        config.Validate();
        return TransformerModel.LayoutOf(config).Count;
    }

    /// <summary>The vocabulary the training job will use: the byte tokenizer's for the embedded corpus, else the data's.</summary>
    static int VocabularyOf(string? data)
    {
        if (data == null) return new ByteTokenizer().VocabSize;
        var meta = PreparedDatasetMeta.LoadIfPresent(Path.GetFullPath(data))
                   ?? throw new EngineException(EngineOption.Data, $"{EngineOption.Data} {data}: no {PreparedDatasetMeta.FileName} there; make the folder with `trainer prepare`");
        return TokenizerFactory.Resolve(meta.Tokenizer).VocabSize;
    }

    public const string CsvHeader = "name,layers,dim,heads,params,budget,tokens,flops,steps,train_loss,loss,seconds,tokens_per_s";

    static void Write(string folder, IReadOnlyList<SweepRun> runs)
    {
        var csv = new StringBuilder().AppendLine(CsvHeader);
        foreach (var r in runs)
            csv.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name},{r.Layers},{r.Dim},{r.Heads},{r.Parameters},{r.Budget:R},{r.Tokens},{r.Flops:R},{r.Steps},{r.TrainLoss:R},{r.ValidationLoss:R},{r.Seconds:F2},{r.TokensPerSecond:F0}"));
        File.WriteAllText(Path.Combine(folder, "runs.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(folder, "runs.json"), JsonSerializer.Serialize(runs, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
    }
}
