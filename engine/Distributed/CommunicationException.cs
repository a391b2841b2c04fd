using System.Globalization;

namespace Engine.Distributed;

/// <summary>
/// The ranks lost each other: a collective did not complete within its bound (<see cref="CollectiveDeadline"/>) or the
/// transport reported a failed peer. Not an error in the input: the command line gives it its own exit code
/// (<see cref="ExitCode"/>), so a scheduler can tell a hung or lost rank (resume from the last checkpoint, perhaps on
/// other nodes) from a wrong setting.
/// </summary>
public sealed class CommunicationException(string message) : EngineException(message)
{
    /// <summary>The process exit code of a communication failure, also used where the watchdog ends the process itself.</summary>
    public const int ExitCode = 4;

    /// <summary>A wait that ran out: names this rank, the collective, the step, the bound and where it comes from, the
    /// rank(s) that did not arrive when they can be known, and what to do.</summary>
    /// <param name="who">This rank: "rank 1 of 2".</param>
    /// <param name="what">The collective: "all-reduce of 1 numbers".</param>
    /// <param name="missing">The rank(s) that did not arrive, or a phrase for them when they cannot be known.</param>
    public static CommunicationException TimedOut(string who, string what, CollectiveDeadline deadline, string missing) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"{who}: {what} {deadline.Where()} did not complete within {deadline.Current.TotalSeconds:0.#} s ({deadline.Describe()}): "
            + $"{missing} did not arrive: stopped, stuck or dead. Set {CommunicationTimeout.Variable} to wait longer; the run's last checkpoint resumes it"));

    /// <summary>Which rank(s) did not come, as far as this rank can tell: of two, the other one; of more, a collective
    /// does not say which.</summary>
    public static string Missing(int rank, int worldSize) => worldSize == 2 ? $"rank {1 - rank}" : "another rank";
}
