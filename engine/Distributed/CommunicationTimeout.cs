using System.Globalization;

namespace Engine.Distributed;

/// <summary>
/// How long any wait on other ranks may last (an MPI collective, a TCP rendezvous): ENGINE_COMM_TIMEOUT_S, else 10
/// minutes. A step of a large model on a slow rank, or a first NCCL set-up, takes minutes; a dead peer should not
/// take hours. One setting for every transport, so a user has one knob to turn.
/// </summary>
public static class CommunicationTimeout
{
    public const string Variable = "ENGINE_COMM_TIMEOUT_S";

    public static TimeSpan FromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(text)) return TimeSpan.FromMinutes(10);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : throw new EngineException($"{Variable}={text} is not a positive number of seconds");
    }
}
