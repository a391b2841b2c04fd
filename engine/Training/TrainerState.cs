using System.Text.Json.Serialization;
using Engine.Checkpoints;
using Engine.Models;
using Engine.Objectives;

namespace Engine.Training;

/// <summary>
/// Everything besides tensors that a resumed run needs to continue exactly where it stopped: a checkpoint's
/// trainer_state.json. It belongs to training (it holds <see cref="TrainingSettings"/>); the checkpoint folder stores it
/// without knowing its shape.
/// </summary>
// Every type saved in trainer_state.json refuses keys it does not know: a key with a flipped letter
// ("sequence_l~ngth") would otherwise read as missing, take its default, and resume a different run.
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed partial record TrainerState : ICheckedState
{
    /// <summary>The state saved in a checkpoint folder; null when the folder has none (weights only, or HF's).</summary>
    public static TrainerState? Read(string checkpointFolder) => Checkpoint.ReadState<TrainerState>(checkpointFolder);

    /// <summary>Optimizer steps completed.</summary>
    public int Step { get; init; }
    public required TransformerConfig Model { get; init; }
    public required TrainingSettings Settings { get; init; }
    /// <summary>How text becomes ids: "byte", "gpt2" or a tokenizer file path.</summary>
    public required string Tokenizer { get; init; }
    public required TrainingObjective Objective { get; init; }
    /// <summary>Where the training data came from: a prepared folder or "embedded".</summary>
    public required string Data { get; init; }
    /// <summary>Every training source with its weight when the run trains on prepared folders (the first is <see cref="Data"/>);
    /// null for the embedded text, and in checkpoints made before mixtures (then <see cref="Data"/> alone, weight 1).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<DataSource>? Sources { get; init; }
    /// <summary>The named validation sets the run scores besides its own; null = none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<EvalDataSet>? EvalSets { get; init; }
    /// <summary>The folder whose weights started the run (<see cref="TrainOptions.InitFrom"/>); null for a run from scratch.</summary>
    public string? InitFrom { get; init; }
    /// <summary>The tokenizer whose tokens grew the model's vocabulary (<see cref="TrainOptions.ExtendVocab"/>); null when none did.</summary>
    public string? ExtendVocab { get; init; }
    public Dictionary<string, long> DataState { get; init; } = new();
    public double InitialValLoss { get; init; } = double.NaN;
    public long TokensSeen { get; init; }
    public double WallSeconds { get; init; }
    /// <summary>fp16's dynamic loss scale, its clean steps since the last change, and the steps skipped so far (null
    /// scale in fp32 and bf16), so a resumed fp16 run goes on exactly.</summary>
    public float? LossScale { get; init; }
    public int LossScaleCleanSteps { get; init; }
    public long SkippedSteps { get; init; }
}
