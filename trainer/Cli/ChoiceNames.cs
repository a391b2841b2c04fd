using Engine.Backends;
using Engine.Distributed;
using Engine.Objectives;
using Engine.Precision;

namespace Trainer.Cli;

/// <summary>
/// How the command line spells the engine's typed choices: each table maps the word a user types to the value the
/// engine takes, and is the list help and errors show (in this order).
/// </summary>
public static class ChoiceNames
{
    public static readonly IReadOnlyDictionary<string, TrainingObjective> Objectives = new Dictionary<string, TrainingObjective>
    {
        ["clm"] = TrainingObjective.Clm, ["mlm"] = TrainingObjective.Mlm, ["span"] = TrainingObjective.Span,
    };

    public static readonly IReadOnlyDictionary<string, DeviceKind> Devices = new Dictionary<string, DeviceKind>
    {
        ["auto"] = DeviceKind.Auto, ["cpu"] = DeviceKind.Cpu, ["cuda"] = DeviceKind.Cuda,
    };

    public static readonly IReadOnlyDictionary<string, ParallelStrategy> Strategies = new Dictionary<string, ParallelStrategy>
    {
        ["none"] = ParallelStrategy.None, ["ddp"] = ParallelStrategy.Ddp, ["fsdp"] = ParallelStrategy.Fsdp,
    };

    public static readonly IReadOnlyDictionary<string, PrecisionMode> Precisions = new Dictionary<string, PrecisionMode>
    {
        ["fp32"] = PrecisionMode.Fp32, ["bf16"] = PrecisionMode.Bf16, ["fp16"] = PrecisionMode.Fp16,
    };

    public static readonly IReadOnlyDictionary<string, Engine.Optim.OptimizerKind> Optimizers = new Dictionary<string, Engine.Optim.OptimizerKind>
    {
        ["adamw"] = Engine.Optim.OptimizerKind.AdamW, ["adamw8bit"] = Engine.Optim.OptimizerKind.AdamW8Bit,
    };

    /// <summary>
    /// `trainer plan` reads its strategy and precision as it always has: trimmed, in any case, and a word outside the
    /// table is an error of the plan (exit 1, "--precision fp8: choose fp32, bf16 or fp16"), not of the command line.
    /// </summary>
    public static T ForPlan<T>(IReadOnlyDictionary<string, T> table, string text, string flag) =>
        table.TryGetValue(text.Trim().ToLowerInvariant(), out var value) ? value
            : throw new Engine.EngineException($"{flag} {text}: choose {string.Join(", ", table.Keys.SkipLast(1))} or {table.Keys.Last()}");

    /// <summary>Read as words, not as System.CommandLine's booleans, which would leave "--fsdp-overlap maybe" a stray word.</summary>
    public static readonly IReadOnlyDictionary<string, Engine.Training.DivergenceAction> DivergenceActions = new Dictionary<string, Engine.Training.DivergenceAction>
    {
        ["warn"] = Engine.Training.DivergenceAction.Warn, ["stop"] = Engine.Training.DivergenceAction.Stop, ["off"] = Engine.Training.DivergenceAction.Off,
    };

    public static readonly IReadOnlyDictionary<string, bool> Booleans = new Dictionary<string, bool> { ["true"] = true, ["false"] = false };
}
