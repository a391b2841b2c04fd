using System.Globalization;
using Engine;
using System.CommandLine;
using Engine.Backends;
using Engine.Distributed;
using Engine.Precision;
using Engine.Inference;
using Engine.Models;
using Engine.Objectives;
using Engine.Training;
using Trainer.Plots;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>The root command: pre-train (or resume) a model.</summary>
public static class TrainCommand
{
    static readonly TrainingSettings Defaults = new();

    /// <summary>The train command's flags; one set per command built (the root and `train` each have their own).</summary>
    sealed class TrainFlags
    {
        public readonly Flag<TrainingObjective?> Objective = Flags.Choice("objective", ChoiceNames.Objectives, "what to learn: clm = next token (GPT), mlm = masked tokens (BERT), span = dropped spans (T5)", "clm");
        public readonly Flag<string?> Model = Flags.Text("model", "PRESET", $"model size: {string.Join(", ", Presets.Names)}", $"{Presets.Default}; bert-tiny for mlm, t5-tiny for span");
        public readonly Flag<Engine.Training.DataSource[]> Data = Flags.Each<Engine.Training.DataSource>("data", "DIR[:WEIGHT]", "a folder made by `trainer prepare`; repeat to mix several made with the same tokenizer, each batch's sequences drawn from them in proportion to the weights (default 1; e.g. --data web:3 --data code:1); validation loss is the first's. Without it, the embedded prescription-shorthand corpus", DataFlagValues.Source);
        public readonly Flag<Engine.Training.EvalDataSet[]> EvalData = Flags.Each<Engine.Training.EvalDataSet>("eval-data", "NAME=DIR", "also score the validation split of a prepared folder at every evaluation, recorded under NAME (metrics.jsonl's val_loss_by_set, summary.json, loss.png); repeatable", DataFlagValues.EvalSet);
        public readonly Flag<DeviceKind?> Device = Flags.Choice("device", ChoiceNames.Devices, "where to train", "auto");
        public readonly Flag<ParallelStrategy?> Strategy = Flags.Choice("strategy", ChoiceNames.Strategies, "one process, or data-parallel over the ranks of an mpirun launch (ddp: replicas; fsdp: sharded)", "none");
        public readonly Flag<PrecisionMode?> Precision = Flags.Choice("precision", ChoiceNames.Precisions, "number format: fp32, or mixed precision with weights and activations stored in 16 bits, fp32 arithmetic, gradients and master weights (fp16 with dynamic loss scaling)", "fp32");
        public readonly Flag<string?> Qat = Flags.Word("qat", Engine.Tensors.QuantizationScheme.Names, "quantization-aware training: every linear layer multiplies fake-quantized weights (per-channel steps) and inputs (one step), both steps learnt (LSQ); w8a8 = int8 weights and inputs, w4a8 = int4 weights, w8 = weights only. fp32 only; with --resume of a run trained without it, fine-tunes that run");
        public readonly Flag<Engine.Optim.OptimizerKind?> Optimizer = Flags.Choice("optimizer", ChoiceNames.Optimizers, "AdamW's moments: fp32 (8 bytes per parameter), or adamw8bit: 8-bit block-wise quantized (about 2 bytes; tensors under 4096 elements keep fp32); a resumed run keeps its checkpoint's", "adamw");
        public readonly Flag<double?> LossScale = Flags.Double("loss-scale", "S", "fp16: the dynamic loss scale to start from (halves on overflow, doubles after 2000 clean steps)", "65536", 1, 1e38);
        public readonly Flag<int?> MaxSkippedSteps = Flags.Int("max-skipped-steps", "N", "fp16: stop (exit 3) after N steps in a row skipped on overflowing gradients (the scale halves each time: 16 halvings take 65536 to its floor of 1)", "20", 1);
        public readonly Flag<Engine.Training.DivergenceAction?> Divergence = Flags.Choice("divergence", ChoiceNames.DivergenceActions, "when the loss rises far above its recent median or the gradient norm jumps 100× its median: print a warning, stop (exit 3, before the step's update), or do not watch", "warn");
        public readonly Flag<string?> ReshardAfterForward = Flags.Word("reshard-after-forward", ChoiceNames.Booleans.Keys.ToList(), "fsdp: free gathered parameters after each unit's forward (false keeps them for backward: less traffic, more memory)", "true");
        public readonly Flag<int?> ShardingFactor = Flags.Int("sharding-factor", "F", "fsdp: ranks per sharding group; groups hold replicas (hybrid sharding)", "the world size", 1);
        public readonly Flag<bool> CpuOffload = Flags.Switch("cpu-offload", "fsdp: keep parameter, gradient and AdamW shards in host memory; the optimizer steps on the CPU");
        public readonly Flag<string?> FsdpOverlap = Flags.Word("fsdp-overlap", ChoiceNames.Booleans.Keys.ToList(), "fsdp: gather the next unit and reduce-scatter the last one while a unit computes (one more unit of each in memory)", "true");
        public readonly Flag<int?> Steps = Flags.Int("steps", "N", "optimizer steps (with --resume: the run's new end, above the step it reached, to extend it)", "1000 (embedded: 1500; mlm 1000; span 1000)", 1);
        public readonly Flag<int?> Batch = Flags.Int("batch", "N", "sequences per optimizer step (global batch)", "16 (embedded: 8; mlm 32)", 1);
        public readonly Flag<int?> MicroBatch = Flags.Int("micro-batch", "N", "sequences per forward/backward; gradients accumulate over batch/micro-batch", "= --batch", 1);
        public readonly Flag<int?> Seq = Flags.Int("seq", "T", "tokens per sequence", "128 (embedded mlm: 32)", 1);
        public readonly Flag<double?> Lr = Flags.Double("lr", "LR", "peak learning rate", Defaults.LearningRate.ToString(CultureInfo.InvariantCulture) + " (embedded mlm: 0.002; span: 0.001)", 0, 10);
        public readonly Flag<double?> MinLrRatio = Flags.Double("min-lr-ratio", "R", "cosine decay floor as a fraction of --lr", "0.1", 0, 1);
        public readonly Flag<int?> Warmup = Flags.Int("warmup", "N", "linear warmup steps", Defaults.WarmupSteps.ToString(CultureInfo.InvariantCulture) + " (embedded mlm: 30)", 0);
        public readonly Flag<double?> WeightDecay = Flags.Double("weight-decay", "W", "AdamW decoupled weight decay (matrices and embeddings only)", "0.1", 0, 10);
        public readonly Flag<double?> PositionBiasLrScale = Flags.Double("position-bias-lr-scale", "S", "T5: multiply the learning rate of the relative position bias tables by S (scalars Adam moves by about the rate per step)", "1 (embedded span: 100)", 0, 1e6);
        public readonly Flag<double?> QatWeightStepLrScale = Flags.Double("qat-weight-step-lr-scale", "S", "--qat: multiply the learning rate of the learnt weight steps by S (Adam moves a scalar by about the rate; a weight step is about 0.002)", "0.1", 0, 1e6);
        public readonly Flag<double?> QatInputStepLrScale = Flags.Double("qat-input-step-lr-scale", "S", "--qat: multiply the learning rate of the learnt input steps by S (an input step is about 0.1)", "1", 0, 1e6);
        public readonly Flag<double?> Clip = Flags.Double("clip", "NORM", "global gradient-norm clip (0 = off)", "1.0", 0);
        public readonly Flag<int?> EvalEvery = Flags.Int("eval-every", "N", "validate every N steps (0 = only at the end)", "100", 0);
        public readonly Flag<int?> EvalBatches = Flags.Int("eval-batches", "N", "micro-batches in the validation set", "8", 1);
        public readonly Flag<int?> CheckpointEvery = Flags.Int("checkpoint-every", "N", "save a checkpoint every N steps (0 = at the end only)", "0", 0);
        public readonly Flag<int?> KeepCheckpoints = Flags.Int("keep-checkpoints", "N", "good checkpoints the run folder keeps: the newest in checkpoint/, older ones in checkpoint-step-N/ (a resume takes the newest that is whole); may change on resume", "2", 1);
        public readonly Flag<int?> Seed = Flags.Int("seed", "S", "seed for initialisation and sampling", "1337", 0);
        public readonly Flag<string?> Out = Flags.Text("out", "DIR", "run folder (metrics.jsonl, summary.json, loss.png, checkpoint/)", "runs/<objective>-<time>");
        public readonly Flag<string?> Resume = Flags.Text("resume", "DIR", "continue a run from its folder (or checkpoint folder) exactly where it stopped; it keeps the checkpoint's model, data and schedule (see below for the flags it takes)");
        public readonly Flag<int?> EmbeddedBpe = Flags.Int("embedded-bpe", "N", "clm on the embedded corpus: read it with a byte-level BPE of up to N tokens learnt from its training text when the run starts (0 = one token per byte)", EmbeddedBpeVocabSize.ToString(CultureInfo.InvariantCulture) + " (it stops at 633: every shorthand word whole)", 0);
        public readonly Flag<string?> InitFrom = Flags.Text("init-from", "DIR", "continued pre-training: start from this model's weights (an HF GPT-2/BERT/T5 folder, or a run or checkpoint folder of ours) with a fresh optimizer and schedule; the shape is the model's");
        public readonly Flag<string?> ExtendVocab = Flags.Text("extend-vocab", "TOKENIZER", "with --init-from: append the tokens of this byte-level BPE (e.g. from `trainer tokenizer train`) that the model lacks; each new embedding row starts as the mean of its old pieces' rows. Data may be prepared with either tokenizer");
        public readonly Flag<bool> PadVocab = Flags.Switch("pad-vocab", "round the vocabulary up to a multiple of 128 (50257 → 50304) for speed");
        public readonly Flag<int?> Layers = Flags.Int("layers", "N", "override the preset's layer count");
        public readonly Flag<int?> Dim = Flags.Int("dim", "N", "override the preset's width (d_model)");
        public readonly Flag<int?> Heads = Flags.Int("heads", "N", "override the preset's attention heads (must divide --dim)");
        public readonly Flag<int?> FfnDim = Flags.Int("ffn-dim", "N", "override the feed-forward width", "the preset's ratio × dim (4×; 2× for t5-*)");
        public readonly Flag<int?> MaxPositions = Flags.Int("max-positions", "N", "override the position table length");
        public readonly Flag<double?> MaskProb = Flags.Double("mask-prob", "P", "mlm: probability a token is chosen (of those 80% → [MASK], 10% random, 10% kept)", "0.15", 0, 1);
        public readonly Flag<bool> WholeWord = Flags.Switch("whole-word", "mlm: choose whole words, masking all their tokens together");
        public readonly Flag<double?> NoiseDensity = Flags.Double("noise-density", "D", "span: fraction of tokens dropped into spans, each span replaced by one sentinel", "0.15", 0, 1);
        public readonly Flag<double?> MeanSpan = Flags.Double("mean-span", "L", "span: mean length of a dropped span", "3", 1, 1000);
        public readonly Flag<int?> SampleTokens = Flags.Int("sample-tokens", "N", "tokens of the sample generation printed at the end (0 = none)", "120", 0);

        public Option[] All => new Option[]
        {
            Objective, Model, Data, EvalData, Device, Strategy, Precision, Qat, Optimizer, LossScale, MaxSkippedSteps, Divergence, ReshardAfterForward, ShardingFactor, CpuOffload, FsdpOverlap,
            Steps, Batch, MicroBatch, Seq, Lr, MinLrRatio, Warmup, WeightDecay, PositionBiasLrScale, QatWeightStepLrScale, QatInputStepLrScale, Clip, EvalEvery, EvalBatches,
            CheckpointEvery, KeepCheckpoints, Seed, Out, Resume, InitFrom, ExtendVocab, EmbeddedBpe, PadVocab, Layers, Dim, Heads, FfnDim, MaxPositions, MaskProb, WholeWord, NoiseDensity,
            MeanSpan, SampleTokens,
        };
    }

    public const string Summary = "Pre-trains a transformer language model (the root command: `trainer --objective clm …` is `trainer train …`).";
    const string Usage = "dotnet run --project trainer -- --objective clm [--model PRESET] [--data DIR[:WEIGHT]]... [--eval-data NAME=DIR]... [--device auto|cpu|cuda] [--steps N] [--batch N] [--micro-batch N] [--seq T] [--lr LR] [--seed S] [--out DIR] [--resume DIR | --init-from DIR [--extend-vocab TOKENIZER]]";
    /// <summary>Says which flags a resume takes and which must match the checkpoint, from the engine's own lists, and
    /// what each exit code means.</summary>
    static readonly string Epilog = "Ctrl-C or SIGTERM saves a checkpoint and exits; --resume DIR continues it bit for bit on the CPU. " +
        $"With --resume, these flags may differ from the run's: {string.Join(", ", ResumeConflicts.MayChange.Where(o => o != EngineOption.Resume).Select(FlagNames.Of))}, --sample-tokens " +
        "(--steps extends the run; the resume echoes each change). Every other flag must hold the checkpoint's value or be left out: " +
        "the resume is refused with the list of those that contradict it. " + Program.ExitCodeHelp;

    /// <summary>The train command: `trainer train …`, or the root itself (<paramref name="name"/> "trainer").</summary>
    public static TrainerCommand Create(string name = "train")
    {
        var flags = new TrainFlags();
        var command = new TrainerCommand(name, Summary, Usage, Epilog).With(flags.All);
        command.SetRun((result, cancellation) => Run(flags, result, cancellation));
        return command;
    }

    /// <summary>
    /// The embedded default is sized to finish within 5 minutes on 2 CPU cores (about 3.5 minutes measured). For a
    /// fixed token budget, more and smaller steps teach the tiny model the notation better: 1500 × 8 sequences
    /// expanded more held-out sigs exactly than 600 × 16 or 1200 × 8.
    /// </summary>
    public const int EmbeddedDefaultSteps = 1500, EmbeddedDefaultBatch = 8;
    /// <summary>The embedded clm default's tokenizer: a BPE learnt from the corpus, asked for 1024 tokens (it stops at 633,
    /// where every word of the shorthand is one token). Against bytes at the same budget it expands held-out shorthand
    /// far better (README, "The embedded default run").</summary>
    public const int EmbeddedBpeVocabSize = 1024;
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

    static TrainOptions ToOptions(TrainFlags f, ParseResult p)
    {
        var objective = p.GetValue(f.Objective) ?? TrainingObjective.Clm;
        bool embedded = !p.Has(f.Data) && !p.Has(f.Resume);
        // Each objective's embedded default; clm's (and span's) are the general defaults with their own steps and batch.
        var d = embedded && objective == TrainingObjective.Mlm ? EmbeddedMlmDefaults
            : embedded && objective == TrainingObjective.Span ? EmbeddedSpanDefaults
            : embedded ? Defaults with { Steps = EmbeddedDefaultSteps, GlobalBatch = EmbeddedDefaultBatch }
            : Defaults;
        int batch = p.GetValue(f.Batch) ?? d.GlobalBatch;
        var settings = new TrainingSettings
        {
            Steps = p.GetValue(f.Steps) ?? d.Steps,
            GlobalBatch = batch,
            MicroBatch = p.GetValue(f.MicroBatch) ?? batch,
            SequenceLength = p.GetValue(f.Seq) ?? d.SequenceLength,
            LearningRate = (float)(p.GetValue(f.Lr) ?? d.LearningRate),
            MinLearningRateRatio = (float)(p.GetValue(f.MinLrRatio) ?? Defaults.MinLearningRateRatio),
            WarmupSteps = p.GetValue(f.Warmup) ?? d.WarmupSteps,
            AdamW = Defaults.AdamW with
            {
                WeightDecay = (float)(p.GetValue(f.WeightDecay) ?? Defaults.AdamW.WeightDecay),
                PositionBiasLearningRateScale = (float)(p.GetValue(f.PositionBiasLrScale) ?? d.AdamW.PositionBiasLearningRateScale),
                WeightStepLearningRateScale = (float)(p.GetValue(f.QatWeightStepLrScale) ?? d.AdamW.WeightStepLearningRateScale),
                InputStepLearningRateScale = (float)(p.GetValue(f.QatInputStepLrScale) ?? d.AdamW.InputStepLearningRateScale),
                Optimizer = p.GetValue(f.Optimizer) ?? Engine.Optim.OptimizerKind.AdamW,
            },
            ClipNorm = p.GetValue(f.Clip) ?? Defaults.ClipNorm,
            EvalEvery = p.GetValue(f.EvalEvery) ?? Defaults.EvalEvery,
            EvalBatches = p.GetValue(f.EvalBatches) ?? Defaults.EvalBatches,
            CheckpointEvery = p.GetValue(f.CheckpointEvery) ?? Defaults.CheckpointEvery,
            KeepCheckpoints = p.GetValue(f.KeepCheckpoints) ?? Defaults.KeepCheckpoints,
            Seed = (ulong)(p.GetValue(f.Seed) ?? (int)Defaults.Seed),
            MaskProbability = p.GetValue(f.MaskProb) ?? Defaults.MaskProbability,
            WholeWordMasking = p.GetValue(f.WholeWord),
            NoiseDensity = p.GetValue(f.NoiseDensity) ?? Defaults.NoiseDensity,
            MeanSpanLength = p.GetValue(f.MeanSpan) ?? Defaults.MeanSpanLength,
            Precision = p.GetValue(f.Precision) ?? PrecisionMode.Fp32,
            InitialLossScale = (float)(p.GetValue(f.LossScale) ?? Defaults.InitialLossScale),
            MaxSkippedSteps = p.GetValue(f.MaxSkippedSteps) ?? Defaults.MaxSkippedSteps,
            Divergence = p.GetValue(f.Divergence) ?? Defaults.Divergence,
        };
        return new TrainOptions
        {
            Objective = objective,
            Model = p.GetValue(f.Model),
            DataSources = p.GetValue(f.Data) ?? [],
            EvalData = p.GetValue(f.EvalData) ?? [],
            Device = p.GetValue(f.Device) ?? DeviceKind.Auto,
            Strategy = p.GetValue(f.Strategy) ?? ParallelStrategy.None,
            Fsdp = new FsdpOptions(
                ReshardAfterForward: ChoiceNames.Booleans[p.GetValue(f.ReshardAfterForward) ?? "true"],
                ShardingFactor: p.GetValue(f.ShardingFactor) ?? 0,
                CpuOffload: p.GetValue(f.CpuOffload),
                Overlap: ChoiceNames.Booleans[p.GetValue(f.FsdpOverlap) ?? "true"]),
            Settings = settings,
            Out = p.GetValue(f.Out),
            Resume = p.GetValue(f.Resume),
            InitFrom = p.GetValue(f.InitFrom),
            EmbeddedBpeVocabSize = p.GetValue(f.EmbeddedBpe) ?? (objective == TrainingObjective.Clm ? EmbeddedBpeVocabSize : 0),
            ExtendVocab = p.GetValue(f.ExtendVocab),
            PadVocab = p.GetValue(f.PadVocab),
            Layers = p.GetValue(f.Layers),
            Dim = p.GetValue(f.Dim),
            Heads = p.GetValue(f.Heads),
            FeedForwardDim = p.GetValue(f.FfnDim),
            MaxPositions = p.GetValue(f.MaxPositions),
            Qat = p.GetValue(f.Qat) is { } qat ? Engine.Tensors.QuantizationScheme.Parse(qat) : null,
            // What was typed, so a resume checks exactly these against its checkpoint (ResumeConflicts).
            Given = f.All.Where(p.Has).Select(o => FlagNames.KeyOf(o.Name)).OfType<EngineOption>().ToHashSet(),
        };
    }

    /// <summary>The run's data as the start of a run prints it: a folder, or each source of a mixture with its weight.</summary>
    static string DataLine(TrainerState state) => state.Sources is { Count: > 1 } sources
        ? string.Join(" + ", sources.Select(s => string.Create(CultureInfo.InvariantCulture, $"{DataSource.NameOf(s.Path)} ×{s.Weight}"))) + $" (validation: {DataSource.NameOf(sources[0].Path)})"
        : state.Data;

    static int Run(TrainFlags flags, ParseResult p, CancellationToken cancellation)
    {
        var options = ToOptions(flags, p) with { EmbeddedText = EmbeddedCorpus.Text };
        int sampleTokens = p.GetValue(flags.SampleTokens) ?? 120;
        using var run = TrainingJob.Prepare(options);
        var c = run.Model.Config;
        var s = run.Loop.State.Settings;
        if (!run.IsLeader)
        {
            // Ranks other than 0 train silently; rank 0 prints and writes the run folder. A sharded model's forward is
            // a collective, so these ranks also run the sample generation with rank 0 (the same calls), printing nothing.
            var summary0 = RunLoop(run, cancellation);
            if (run.Model.ParameterState.IsCollective && !summary0.Interrupted && sampleTokens > 0)
            {
                var console = Console.Out;
                Console.SetOut(TextWriter.Null);
                try { Samples.Print(run, sampleTokens, s.Seed); }
                finally { Console.SetOut(console); }
            }
            return ExitCodes.ForRun(summary0.Interrupted, StopSignals.Received);
        }
        Console.WriteLine(FlagNames.Render(run.DeviceNote));
        if (run.Communicator.WorldSize > 1)
            Console.WriteLine($"data parallel: {run.Communicator.WorldSize} ranks over {run.Communicator.Transport}, {s.GlobalBatch / run.Communicator.WorldSize} sequences each per step");
        if (run.Model.ParameterState is FullyShardedParameters sharded)
            Console.WriteLine($"fsdp: parameters, gradients and AdamW moments in {sharded.GroupSize} shards{(sharded.Replicas > 1 ? $", {sharded.Replicas} replica groups (hybrid)" : "")}; " +
                $"{sharded.Plan.Units.Count} units gathered on use{(sharded.Options.ReshardAfterForward ? "" : ", kept from forward to backward")}{(sharded.Options.Overlap ? ", the next one gathered ahead" : ", no overlap")}{(sharded.Options.CpuOffload ? "; shards and the optimizer step on the host" : "")}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {c.Layers} layers, width {c.Dim}, {c.Heads} heads, vocabulary {c.VocabSize}{(c.PaddedVocabSize != c.VocabSize ? $" (padded to {c.PaddedVocabSize})" : "")}: {run.Model.ParameterCount / 1e6:F2}M parameters"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data: {DataLine(run.Loop.State)} (tokenizer {run.Tokenizer.Name}); objective {run.Loop.State.Objective.Name()}; batch {s.GlobalBatch} × {s.SequenceLength} tokens ({s.GlobalBatch / (s.MicroBatch * run.Communicator.WorldSize)} micro-batch(es) of {s.MicroBatch} per rank); {s.Steps} steps"));
        if (run.Loop.State.InitFrom is { } initFrom && !run.Resumed)
            Console.WriteLine($"weights from {initFrom}{(run.Loop.State.ExtendVocab is { } grown ? $"; vocabulary grown with the tokens of {grown} ({c.VocabSize} tokens)" : "")}; optimizer and schedule fresh");
        foreach (var note in run.Notes) Console.WriteLine(FlagNames.Render(note));
        Console.WriteLine($"run folder: {run.Folder.Path}{(run.Resumed ? $" (resuming at step {run.Loop.State.Step})" : "")}");
        if (run.ResumeChanges != null) Console.WriteLine(FlagNames.Render(run.ResumeChanges));
        var summary = RunLoop(run, cancellation, new ConsoleProgress(s.Steps));
        LossPlot.Write(run.Folder);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(summary.Interrupted ? "interrupted" : "done")} at step {summary.Steps}: validation loss {summary.InitialValLoss:F4} → {summary.FinalValLoss:F4}, {summary.TokensPerS:F0} tokens/s, {summary.WallS:F1} s"));
        Console.WriteLine($"checkpoint: {run.Folder.CheckpointPath}  (resume: --resume {run.Folder.Path})");
        if (!summary.Interrupted && sampleTokens > 0) Samples.Print(run, sampleTokens, s.Seed);
        return ExitCodes.ForRun(summary.Interrupted, StopSignals.Received);
    }

    /// <summary>The training loop; a rank lost mid-run gets the exact command that resumes the run added to its message.</summary>
    static TrainingSummary RunLoop(PreparedRun run, CancellationToken cancellation, ITrainingObserver? progress = null)
    {
        try { return run.Loop.Run(cancellation, progress); }
        catch (CommunicationException e)
        {
            throw new CommunicationException($"{e.Message}: --resume {run.Folder.Path}");
        }
    }
}
