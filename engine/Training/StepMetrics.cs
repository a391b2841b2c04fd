namespace Engine.Training;

/// <summary>What one optimizer step reports (one line of metrics.jsonl).</summary>
public sealed record StepMetrics(int Step, int TotalSteps, double Loss, float LearningRate, double GradNorm, double TokensPerSecond, double StepSeconds, double? ValidationLoss);

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
}
