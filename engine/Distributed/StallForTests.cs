using System.Globalization;

namespace Engine.Distributed;

/// <summary>
/// A test-only hook: ENGINE_TEST_STALL_RANK=R:S makes rank R stop taking part after step S, as a SIGSTOPped or
/// deadlocked process would (it sleeps until it is killed), so a test can show how the other ranks notice, without
/// sending signals to processes mpirun started. Unset, it costs one look at a cached value per step.
/// </summary>
public static class StallForTests
{
    public const string Variable = "ENGINE_TEST_STALL_RANK";

    static readonly (int Rank, int Step)? Target = Parse(Environment.GetEnvironmentVariable(Variable));

    public static void AfterStep(int rank, int step)
    {
        if (Target is { } t && t.Rank == rank && t.Step == step) Thread.Sleep(Timeout.Infinite);
    }

    static (int, int)? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var parts = text.Split(':');
        return parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int rank)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int step)
            ? (rank, step)
            : throw new EngineException($"{Variable}={text} is not RANK:STEP (e.g. 1:3: rank 1 stops after step 3)");
    }
}
