using System.Globalization;
using Engine;
using Engine.Backends;
using Engine.Inference;
using Engine.Models;
using Engine.Training;
using Trainer.Plots;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>The root command: pre-train (or resume) a model.</summary>
public static class TrainCommand
{
    static readonly TrainingSettings Defaults = new();

    public static CommandSpec Spec => new()
    {
        Name = "train",
        Summary = "Pre-trains a transformer language model (the root command: `trainer --objective clm …` is `trainer train …`).",
        Usage = "dotnet run --project trainer -- --objective clm [--model PRESET] [--data PATH] [--device auto|cpu|cuda] [--steps N] [--batch N] [--micro-batch N] [--seq T] [--lr LR] [--seed S] [--out DIR] [--resume DIR]",
        Options = new[]
        {
            new OptionSpec("objective", "clm|mlm|span", "what to learn: clm = next token (GPT), mlm = masked tokens (BERT), span = dropped spans (T5)", "clm"),
            new OptionSpec("model", "PRESET", $"model size: {string.Join(", ", Presets.Names)}", $"{Presets.Default}; bert-tiny for mlm, t5-tiny for span"),
            new OptionSpec("data", "PATH", "a folder made by `trainer prepare`; without it, the embedded prescription-shorthand corpus"),
            new OptionSpec("device", "auto|cpu|cuda", "where to train", "auto"),
            new OptionSpec("strategy", "none|ddp|fsdp", "one process, or data-parallel over the ranks of an mpirun launch (ddp: replicas; fsdp: sharded)", "none"),
            new OptionSpec("precision", "fp32|bf16|fp16", "number format: fp32, or mixed precision with weights and activations stored in 16 bits, fp32 arithmetic, gradients and master weights (fp16 with dynamic loss scaling)", "fp32"),
            new OptionSpec("loss-scale", "S", "fp16: the dynamic loss scale to start from (halves on overflow, doubles after 2000 clean steps)", "65536"),
            new OptionSpec("reshard-after-forward", "true|false", "fsdp: free gathered parameters after each unit's forward (false keeps them for backward: less traffic, more memory)", "true"),
            new OptionSpec("sharding-factor", "F", "fsdp: ranks per sharding group; groups hold replicas (hybrid sharding)", "the world size"),
            OptionSpec.Flag("cpu-offload", "fsdp: keep parameter, gradient and AdamW shards in host memory; the optimizer steps on the CPU"),
            new OptionSpec("fsdp-overlap", "true|false", "fsdp: gather the next unit and reduce-scatter the last one while a unit computes (one more unit of each in memory)", "true"),
            new OptionSpec("steps", "N", "optimizer steps", "1000 (embedded: 1500; mlm 1000; span 1000)"),
            new OptionSpec("batch", "N", "sequences per optimizer step (global batch)", "16 (embedded: 8; mlm 32)"),
            new OptionSpec("micro-batch", "N", "sequences per forward/backward; gradients accumulate over batch/micro-batch", "= --batch"),
            new OptionSpec("seq", "T", "tokens per sequence", "128 (embedded mlm: 32)"),
            new OptionSpec("lr", "LR", "peak learning rate", Defaults.LearningRate.ToString(CultureInfo.InvariantCulture) + " (embedded mlm: 0.002; span: 0.001)"),
            new OptionSpec("min-lr-ratio", "R", "cosine decay floor as a fraction of --lr", "0.1"),
            new OptionSpec("warmup", "N", "linear warmup steps", Defaults.WarmupSteps.ToString(CultureInfo.InvariantCulture) + " (embedded mlm: 30)"),
            new OptionSpec("weight-decay", "W", "AdamW decoupled weight decay (matrices and embeddings only)", "0.1"),
            new OptionSpec("position-bias-lr-scale", "S", "T5: multiply the learning rate of the relative position bias tables by S (scalars Adam moves by about the rate per step)", "1 (embedded span: 100)"),
            new OptionSpec("clip", "NORM", "global gradient-norm clip (0 = off)", "1.0"),
            new OptionSpec("eval-every", "N", "validate every N steps (0 = only at the end)", "100"),
            new OptionSpec("eval-batches", "N", "micro-batches in the validation set", "8"),
            new OptionSpec("checkpoint-every", "N", "save a checkpoint every N steps (0 = at the end only)", "0"),
            new OptionSpec("seed", "S", "seed for initialisation and sampling", "1337"),
            new OptionSpec("out", "DIR", "run folder (metrics.jsonl, summary.json, loss.png, checkpoint/)", "runs/<objective>-<time>"),
            new OptionSpec("resume", "DIR", "continue a run from its folder (or checkpoint folder) exactly where it stopped"),
            OptionSpec.Flag("pad-vocab", "round the vocabulary up to a multiple of 128 (50257 → 50304) for speed"),
            new OptionSpec("layers", "N", "override the preset's layer count"),
            new OptionSpec("dim", "N", "override the preset's width (d_model)"),
            new OptionSpec("heads", "N", "override the preset's attention heads (must divide --dim)"),
            new OptionSpec("ffn-dim", "N", "override the feed-forward width", "the preset's ratio × dim (4×; 2× for t5-*)"),
            new OptionSpec("max-positions", "N", "override the position table length"),
            new OptionSpec("mask-prob", "P", "mlm: probability a token is chosen (of those 80% → [MASK], 10% random, 10% kept)", "0.15"),
            OptionSpec.Flag("whole-word", "mlm: choose whole words, masking all their tokens together"),
            new OptionSpec("noise-density", "D", "span: fraction of tokens dropped into spans, each span replaced by one sentinel", "0.15"),
            new OptionSpec("mean-span", "L", "span: mean length of a dropped span", "3"),
            new OptionSpec("sample-tokens", "N", "tokens of the sample generation printed at the end (0 = none)", "120"),
        },
        Epilog = "Ctrl-C saves a checkpoint and exits; --resume DIR continues it bit for bit on the CPU.",
        Run = Run,
    };

    /// <summary>
    /// The embedded default is sized to finish within 5 minutes on 2 CPU cores (about 3.5 minutes measured). For a
    /// fixed token budget, more and smaller steps teach the tiny model the notation better: 1500 × 8 sequences
    /// expanded more held-out sigs exactly than 600 × 16 or 1200 × 8.
    /// </summary>
    public const int EmbeddedDefaultSteps = 1500, EmbeddedDefaultBatch = 8;
    /// <summary>
    /// The embedded span default: t5-tiny on 8 × 128 input bytes per step. T5 sees positions only through its relative
    /// position bias tables, scalars that Adam moves by about the learning rate per step; at 3e-3 for everything the
    /// model stalled at 2.19 (700 steps) and 2.14 (3000), at 1e-3 with the tables at 100× it reached 1.99 at step 750
    /// and 1.75 at 2000 (T5CopyTaskTests shows the mechanism on a small task). 1000 steps keep the run inside 5
    /// minutes on 2 shared cores (about 0.12 s a step idle, up to 0.25 s busy).
    /// </summary>
    public static readonly TrainingSettings EmbeddedSpanDefaults = Defaults with
    {
        Steps = 1000, GlobalBatch = EmbeddedDefaultBatch, MicroBatch = EmbeddedDefaultBatch, LearningRate = 1e-3f,
        AdamW = Defaults.AdamW with { PositionBiasLearningRateScale = 100f },
    };

    /// <summary>
    /// The embedded mlm default: bert-tiny on whole words of the corpus (WordMlmTokenizer) in 32-word windows, about
    /// 3 minutes on 2 busy CPU cores. MLM's loss sits at the unigram level until attention learns where to look (about
    /// 300 steps here); words and short windows shorten that plateau, which 128-byte windows never left in 600 steps.
    /// Windows, not one line per row: rows then start anywhere in a line, so the model also reads English without its
    /// shorthand, as a fill-mask user writes it ("take one [MASK] by mouth"); one-line rows learned faster but put
    /// shorthand words there, having only ever seen a line's start at the row's start.
    /// </summary>
    public static readonly TrainingSettings EmbeddedMlmDefaults = new()
    {
        Steps = 1000, GlobalBatch = 32, MicroBatch = 32, SequenceLength = 32, LearningRate = 2e-3f, WarmupSteps = 30,
    };

    public static TrainOptions ToOptions(ParsedOptions p)
    {
        string objective = p.Choice("objective", "clm", new[] { "clm", "mlm", "span" });
        bool embedded = !p.Has("data") && !p.Has("resume");
        // Each objective's embedded default; clm's (and span's) are the general defaults with their own steps and batch.
        var d = embedded && objective == "mlm" ? EmbeddedMlmDefaults
            : embedded && objective == "span" ? EmbeddedSpanDefaults
            : embedded ? Defaults with { Steps = EmbeddedDefaultSteps, GlobalBatch = EmbeddedDefaultBatch }
            : Defaults;
        int batch = p.Int("batch", d.GlobalBatch, 1);
        var settings = new TrainingSettings
        {
            Steps = p.Int("steps", d.Steps, 1),
            GlobalBatch = batch,
            MicroBatch = p.Int("micro-batch", batch, 1),
            SequenceLength = p.Int("seq", d.SequenceLength, 1),
            LearningRate = (float)p.Double("lr", d.LearningRate, 0, 10),
            MinLearningRateRatio = (float)p.Double("min-lr-ratio", Defaults.MinLearningRateRatio, 0, 1),
            WarmupSteps = p.Int("warmup", d.WarmupSteps, 0),
            AdamW = Defaults.AdamW with
            {
                WeightDecay = (float)p.Double("weight-decay", Defaults.AdamW.WeightDecay, 0, 10),
                PositionBiasLearningRateScale = (float)p.Double("position-bias-lr-scale", d.AdamW.PositionBiasLearningRateScale, 0, 1e6),
            },
            ClipNorm = p.Double("clip", Defaults.ClipNorm, 0),
            EvalEvery = p.Int("eval-every", Defaults.EvalEvery, 0),
            EvalBatches = p.Int("eval-batches", Defaults.EvalBatches, 1),
            CheckpointEvery = p.Int("checkpoint-every", Defaults.CheckpointEvery, 0),
            Seed = (ulong)p.Int("seed", (int)Defaults.Seed, 0),
            MaskProbability = p.Double("mask-prob", Defaults.MaskProbability, 0, 1),
            WholeWordMasking = p.Flag("whole-word"),
            NoiseDensity = p.Double("noise-density", Defaults.NoiseDensity, 0, 1),
            MeanSpanLength = p.Double("mean-span", Defaults.MeanSpanLength, 1, 1000),
            Precision = p.Choice("precision", "fp32", new[] { "fp32", "bf16", "fp16" }),
            InitialLossScale = (float)p.Double("loss-scale", Defaults.InitialLossScale, 1, 1e38),
        };
        return new TrainOptions
        {
            Objective = objective,
            Model = p.String("model"),
            Data = p.String("data"),
            Device = p.Choice("device", "auto", BackendFactory.Choices),
            Strategy = p.Choice("strategy", "none", new[] { "none", "ddp", "fsdp" }),
            Fsdp = new Engine.Distributed.FsdpOptions(
                ReshardAfterForward: p.Choice("reshard-after-forward", "true", new[] { "true", "false" }) == "true",
                ShardingFactor: p.Int("sharding-factor", 0, 1),
                CpuOffload: p.Flag("cpu-offload"),
                Overlap: p.Choice("fsdp-overlap", "true", new[] { "true", "false" }) == "true"),
            Settings = settings,
            Out = p.String("out"),
            Resume = p.String("resume"),
            PadVocab = p.Flag("pad-vocab"),
            Layers = p.OptionalInt("layers"),
            Dim = p.OptionalInt("dim"),
            Heads = p.OptionalInt("heads"),
            FeedForwardDim = p.OptionalInt("ffn-dim"),
            MaxPositions = p.OptionalInt("max-positions"),
            StepsGiven = p.Has("steps"),
        };
    }

    static int Run(ParsedOptions p, CancellationToken cancellation)
    {
        var options = ToOptions(p) with { EmbeddedText = EmbeddedCorpus.Text };
        int sampleTokens = p.Int("sample-tokens", 120, 0);
        using var run = TrainingJob.Prepare(options);
        var c = run.Model.Config;
        var s = run.Loop.State.Settings;
        if (!run.IsLeader)
        {
            // Ranks other than 0 train silently; rank 0 prints and writes the run folder. A sharded model's forward is
            // a collective, so these ranks also run the sample generation with rank 0 (the same calls), printing nothing.
            var summary0 = run.Loop.Run(cancellation);
            if (run.Model.Sharding != null && !summary0.Interrupted && sampleTokens > 0)
            {
                var console = Console.Out;
                Console.SetOut(TextWriter.Null);
                try { Samples.Print(run, sampleTokens, s.Seed); }
                finally { Console.SetOut(console); }
            }
            return 0;
        }
        Console.WriteLine(run.DeviceNote);
        if (run.Communicator.WorldSize > 1)
            Console.WriteLine($"data parallel: {run.Communicator.WorldSize} ranks over {run.Communicator.Transport}, {s.GlobalBatch / run.Communicator.WorldSize} sequences each per step");
        if (run.Model.Sharding is { } sharded)
            Console.WriteLine($"fsdp: parameters, gradients and AdamW moments in {sharded.GroupSize} shards{(sharded.Replicas > 1 ? $", {sharded.Replicas} replica groups (hybrid)" : "")}; " +
                $"{sharded.Plan.Units.Count} units gathered on use{(sharded.Options.ReshardAfterForward ? "" : ", kept from forward to backward")}{(sharded.Options.Overlap ? ", the next one gathered ahead" : ", no overlap")}{(sharded.Options.CpuOffload ? "; shards and the optimizer step on the host" : "")}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {c.Layers} layers, width {c.Dim}, {c.Heads} heads, vocabulary {c.VocabSize}{(c.PaddedVocabSize != c.VocabSize ? $" (padded to {c.PaddedVocabSize})" : "")}: {run.Model.ParameterCount / 1e6:F2}M parameters"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data: {run.Loop.State.Data} (tokenizer {run.Tokenizer.Name}); objective {run.Loop.State.Objective}; batch {s.GlobalBatch} × {s.SequenceLength} tokens ({s.GlobalBatch / (s.MicroBatch * run.Communicator.WorldSize)} micro-batch(es) of {s.MicroBatch} per rank); {s.Steps} steps"));
        Console.WriteLine($"run folder: {run.Folder.Path}{(run.Resumed ? $" (resuming at step {run.Loop.State.Step})" : "")}");
        var summary = run.Loop.Run(cancellation, new ConsoleProgress(s.Steps));
        LossPlot.Write(run.Folder);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(summary.Interrupted ? "interrupted" : "done")} at step {summary.Steps}: validation loss {summary.InitialValLoss:F4} → {summary.FinalValLoss:F4}, {summary.TokensPerS:F0} tokens/s, {summary.WallS:F1} s"));
        Console.WriteLine($"checkpoint: {run.Folder.CheckpointPath}  (resume: --resume {run.Folder.Path})");
        if (!summary.Interrupted && sampleTokens > 0) Samples.Print(run, sampleTokens, s.Seed);
        return 0;
    }
}
