using System.Text.Json.Serialization;
using Engine.Parameters;

namespace Engine.Training;

/// <summary>What one optimizer step reports (one line of metrics.jsonl).</summary>
/// <param name="LossScale">fp16's loss scale during the step (null in fp32 and bf16).</param>
/// <param name="Skipped">The step's gradients overflowed (inf/NaN after unscaling): no update was made.</param>
/// <param name="SkippedSteps">Steps skipped so far in the run (fp16).</param>
/// <param name="TokensBySource">Tokens each training source (by folder name) has given so far; null for the embedded text.</param>
/// <param name="ValidationLossBySet">At an evaluation: the loss on each named validation set (<see cref="TrainOptions.EvalData"/>).</param>
public sealed record StepMetrics(int Step, int TotalSteps, double Loss, float LearningRate, double GradNorm, double TokensPerSecond, double StepSeconds, double? ValidationLoss,
    float? LossScale = null, bool Skipped = false, long SkippedSteps = 0,
    IReadOnlyDictionary<string, long>? TokensBySource = null, IReadOnlyDictionary<string, double>? ValidationLossBySet = null);

/// <summary>Receives progress from the loop: the command line draws a live line, tests record.</summary>
public interface ITrainingObserver
{
    void OnStep(StepMetrics metrics) { }
    void OnValidation(int step, double loss) { }
    void OnCheckpoint(int step, string path) { }
    void OnMessage(string message) { }
}

/// <summary>The end of a run, as summary.json records it.</summary>
public sealed record TrainingSummary
{
    public double InitialValLoss { get; init; }
    public double FinalValLoss { get; init; }
    public double FinalTrainLoss { get; init; }
    public int Steps { get; init; }
    public long Tokens { get; init; }
    public double TokensPerS { get; init; }
    public double WallS { get; init; }
    public long PeakMemoryBytes { get; init; }
    public long PeakProcessMemoryBytes { get; init; }
    public long Parameters { get; init; }
    public string Device { get; init; } = "";
    public string Objective { get; init; } = "";
    public bool Interrupted { get; init; }
    /// <summary>Rank 0's model states: what the strategy left on it (a shard under FSDP, everything otherwise).</summary>
    public ModelStateBytes? ModelStates { get; init; }
    /// <summary>Tokens each training source gave over the whole run; absent for the embedded text.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, long>? TokensBySource { get; init; }
    /// <summary>The last validation loss on each named set; absent without any.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, double>? FinalValLossBySet { get; init; }
}
