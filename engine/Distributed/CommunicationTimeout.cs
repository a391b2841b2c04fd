using System.Globalization;

namespace Engine.Distributed;

/// <summary>
/// ENGINE_COMM_TIMEOUT_S: a fixed bound, in seconds, on any wait on other ranks (an MPI or NCCL collective, a TCP
/// rendezvous). Unset, collectives wait for a bound learnt from the run (<see cref="CollectiveDeadline"/>) and a
/// rendezvous, which comes before any step, for 10 minutes. One setting for every transport, so a user has one knob
/// to turn.
/// </summary>
public static class CommunicationTimeout
{
    public const string Variable = "ENGINE_COMM_TIMEOUT_S";

    /// <summary>The variable's value, or the bound before the first step (<see cref="CollectiveDeadline.FirstStepBound"/>)
    /// when it is unset: for waits that come before any step, such as a rendezvous.</summary>
    public static TimeSpan FromEnvironment() => FixedFromEnvironment() ?? CollectiveDeadline.FirstStepBound;

    /// <summary>The variable's value; null when it is unset.</summary>
    public static TimeSpan? FixedFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(text)) return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : throw new EngineException($"{Variable}={text} is not a positive number of seconds");
    }
}
