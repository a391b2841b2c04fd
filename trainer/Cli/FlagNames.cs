using Engine;

namespace Trainer.Cli;

/// <summary>
/// The trainer's flag for each option the engine can name in a message: the engine throws and notes with typed keys
/// (<see cref="EngineOption"/>), and what the user reads names the flag they typed and the flag that fixes it.
/// </summary>
public static class FlagNames
{
    public static string Of(EngineOption option) => "--" + option switch
    {
        EngineOption.Objective => "objective",
        EngineOption.Model => "model",
        EngineOption.Data => "data",
        EngineOption.EvalData => "eval-data",
        EngineOption.Device => "device",
        EngineOption.Strategy => "strategy",
        EngineOption.Out => "out",
        EngineOption.Resume => "resume",
        EngineOption.InitFrom => "init-from",
        EngineOption.ExtendVocab => "extend-vocab",
        EngineOption.PadVocab => "pad-vocab",
        EngineOption.EmbeddedBpe => "embedded-bpe",
        EngineOption.ReshardAfterForward => "reshard-after-forward",
        EngineOption.ShardingFactor => "sharding-factor",
        EngineOption.CpuOffload => "cpu-offload",
        EngineOption.FsdpOverlap => "fsdp-overlap",
        EngineOption.Steps => "steps",
        EngineOption.GlobalBatch => "batch",
        EngineOption.MicroBatch => "micro-batch",
        EngineOption.SequenceLength => "seq",
        EngineOption.LearningRate => "lr",
        EngineOption.MinLearningRateRatio => "min-lr-ratio",
        EngineOption.WarmupSteps => "warmup",
        EngineOption.EvalEvery => "eval-every",
        EngineOption.EvalBatches => "eval-batches",
        EngineOption.CheckpointEvery => "checkpoint-every",
        EngineOption.KeepCheckpoints => "keep-checkpoints",
        EngineOption.MaskProbability => "mask-prob",
        EngineOption.NoiseDensity => "noise-density",
        EngineOption.MeanSpanLength => "mean-span",
        EngineOption.Precision => "precision",
        EngineOption.Qat => "qat",
        EngineOption.Checkpoint => "checkpoint",
        EngineOption.Bits => "bits",
        EngineOption.WeightOnly => "weight-only",
        EngineOption.InitialLossScale => "loss-scale",
        EngineOption.Optimizer => "optimizer",
        EngineOption.Seed => "seed",
        EngineOption.ClipNorm => "clip",
        EngineOption.WeightDecay => "weight-decay",
        EngineOption.PositionBiasLearningRateScale => "position-bias-lr-scale",
        EngineOption.WeightStepLearningRateScale => "qat-weight-step-lr-scale",
        EngineOption.InputStepLearningRateScale => "qat-input-step-lr-scale",
        EngineOption.WholeWordMasking => "whole-word",
        EngineOption.MaxSkippedSteps => "max-skipped-steps",
        EngineOption.Divergence => "divergence",
        EngineOption.Layers => "layers",
        EngineOption.Dim => "dim",
        EngineOption.Heads => "heads",
        EngineOption.FeedForwardDim => "ffn-dim",
        EngineOption.MaxPositions => "max-positions",
        EngineOption.VocabSize => "vocab",
        EngineOption.Input => "input",
        EngineOption.Tokenizer => "tokenizer",
        EngineOption.Text => "text",
        EngineOption.TokenizerVocabSize => "vocab-size",
        EngineOption.SpecialTokens => "special",
        EngineOption.MaxNewTokens => "max-tokens",
        EngineOption.Temperature => "temperature",
        EngineOption.TopK => "top-k",
        EngineOption.Gpus => "gpus",
        EngineOption.ZeroStage => "zero-stage",
        EngineOption.Gpu => "gpu",
        EngineOption.GpuMemory => "gpu-memory",
        EngineOption.Parameters => "params",
        EngineOption.Tokens => "tokens",
        EngineOption.ComputeBudget => "compute-budget",
        EngineOption.Mfu => "mfu",
        EngineOption.ScalingCsv => "csv",
        EngineOption.ExcludeHighestLoss => "exclude-highest-loss",
        EngineOption.SweepModels => "models",
        EngineOption.Budgets => "budgets",
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, "an engine option without a flag: add it here"),
    };

    /// <summary>The engine option a flag ("--dim") sets; null for a flag the engine never names (--sample-tokens).</summary>
    public static EngineOption? KeyOf(string flag) => ByFlag.TryGetValue(flag, out var option) ? option : null;

    static readonly Dictionary<string, EngineOption> ByFlag = Enum.GetValues<EngineOption>().ToDictionary(Of);

    /// <summary>An engine message as the command line's user reads it: options named by their flags.</summary>
    public static string Render(OptionMessage message) => message.Render(Of);

    /// <summary>An engine error as the command line's user reads it.</summary>
    public static string Render(EngineException error) => error.Render(Of);
}
