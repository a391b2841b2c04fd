using System.Globalization;
using Engine.Training;

namespace Trainer.Commands;

/// <summary>
/// The live progress line: step/total, loss, lr, tokens/s, ETA. Redraws in place on a terminal; when output is a
/// file or pipe, prints a line every few steps instead so logs stay readable.
/// </summary>
public sealed class ConsoleProgress : ITrainingObserver
{
    readonly bool interactive = !Console.IsOutputRedirected;
    readonly int printEvery;
    double smoothedStepSeconds = double.NaN;

    public ConsoleProgress(int totalSteps) => printEvery = Math.Max(1, totalSteps / 20);

    public void OnStep(StepMetrics m)
    {
        smoothedStepSeconds = double.IsNaN(smoothedStepSeconds) ? m.StepSeconds : 0.9 * smoothedStepSeconds + 0.1 * m.StepSeconds;
        var eta = TimeSpan.FromSeconds(smoothedStepSeconds * (m.TotalSteps - m.Step));
        string line = string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step,5}/{m.TotalSteps} | loss {m.Loss:F4} | lr {m.LearningRate:E2} | grad norm {m.GradNorm:F3} | {m.TokensPerSecond,8:F0} tok/s | ETA {FormatEta(eta)}");
        if (m.ValidationLoss is double v) line += string.Create(CultureInfo.InvariantCulture, $" | val {v:F4}");
        if (interactive)
        {
            Console.Write("\r" + line.PadRight(Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 140) : 0));
            if (m.ValidationLoss != null || m.Step == m.TotalSteps) Console.WriteLine();
        }
        else if (m.Step % printEvery == 0 || m.ValidationLoss != null || m.Step == m.TotalSteps || m.Step == 1)
            Console.WriteLine(line);
    }

    public void OnValidation(int step, double loss)
    {
        if (step == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"validation loss before training: {loss:F4}"));
    }

    public void OnCheckpoint(int step, string path) { }
    /// <summary>A message on its own line: on a terminal the progress line is wiped first, so the two do not run together.</summary>
    public void OnMessage(string message)
    {
        if (interactive) Console.Write("\r" + new string(' ', Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 140) : 0) + "\r");
        Console.WriteLine(message);
    }

    /// <summary>mm:ss under an hour, h:mm:ss under a day, then days and hours: a long run's ETA must not wrap.</summary>
    public static string FormatEta(TimeSpan eta) =>
        eta.TotalDays >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)eta.TotalDays}d {eta.Hours}h")
        : eta.TotalHours >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)eta.TotalHours}:{eta:mm\\:ss}")
        : eta.ToString("mm\\:ss", CultureInfo.InvariantCulture);
}
