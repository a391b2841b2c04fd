using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>Records every step's training loss.</summary>
public sealed class Recorder : ITrainingObserver
{
    public List<double> Losses { get; } = new();
    public void OnStep(StepMetrics m) => Losses.Add(m.Loss);
}

/// <summary>Records the losses and stops the loop after a given step, as Ctrl-C does.</summary>
public sealed class StopAfter(int step, CancellationTokenSource source) : ITrainingObserver
{
    public List<double> Losses { get; } = new();
    public void OnStep(StepMetrics m) { Losses.Add(m.Loss); if (m.Step == step) source.Cancel(); }
}
