using System.Diagnostics;
using System.Globalization;

namespace Engine.Distributed;

/// <summary>
/// How long one wait on the other ranks may last, learnt from the run's own pace: a hung rank is then noticed in about
/// half a minute on a small run instead of after a fixed ten minutes, while a large model's slow steps still get the
/// time they need. The training loop reports each finished step (<see cref="StepCompleted"/>); the communicators read
/// <see cref="Current"/> while they wait. ENGINE_COMM_TIMEOUT_S, when set, is a fixed bound instead.
/// </summary>
/// <remarks>
/// The rule, and why:
/// <list type="bullet">
/// <item>Before the first step of this process completes: <see cref="FirstStepBound"/> (10 minutes, the old fixed
/// default). Set-up happens here: MPI and NCCL joining, one rank preparing what the others wait for, the first step's
/// allocations and compilation; none of it says anything about the pace of a step.</item>
/// <item>After: <see cref="StepMultiple"/> × the slowest step so far, at least <see cref="Floor"/>. A step is timed
/// from one report to the next, so it includes what happens between steps (validation, rank 0 writing metrics and a
/// checkpoint, which the other ranks wait for in the next collective); ten times the slowest leaves room for a rank
/// slowed by a busy machine or a garbage collection. The 30 s floor covers what a small run has not yet timed (its
/// first checkpoint or validation) and is short enough that the job ends within a minute of a rank hanging: the bound,
/// plus a step, plus mpirun stopping the others.</item>
/// </list>
/// What the rule cannot foresee is an operation that happens for the first time after the first step and takes far
/// longer than a step: the first checkpoint of a model of many billions of parameters on a slow disk. Such a run sets
/// ENGINE_COMM_TIMEOUT_S.
/// </remarks>
public sealed class CollectiveDeadline
{
    public static readonly TimeSpan FirstStepBound = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan Floor = TimeSpan.FromSeconds(30);
    public const int StepMultiple = 10;

    readonly TimeSpan? fixedBound;
    readonly Func<TimeSpan> clock;
    readonly object gate = new();
    TimeSpan slowest;
    TimeSpan? lastReport;
    int lastStep;
    bool stepped;

    /// <param name="fixedBound">A bound that does not learn (ENGINE_COMM_TIMEOUT_S); null learns from the steps.</param>
    /// <param name="clock">Time since any fixed origin (tests pass a fake); a stopwatch by default.</param>
    public CollectiveDeadline(TimeSpan? fixedBound = null, Func<TimeSpan>? clock = null)
    {
        this.fixedBound = fixedBound;
        if (clock == null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }
        this.clock = clock;
    }

    /// <summary>The process's bound: fixed by ENGINE_COMM_TIMEOUT_S when it is set, else learnt.</summary>
    public static CollectiveDeadline FromEnvironment() => new(CommunicationTimeout.FixedFromEnvironment());

    /// <summary>Whether ENGINE_COMM_TIMEOUT_S (or a caller) fixed the bound.</summary>
    public bool IsFixed => fixedBound.HasValue;

    /// <summary>How long a wait that is running now may last.</summary>
    public TimeSpan Current
    {
        get
        {
            if (fixedBound is { } bound) return bound;
            lock (gate)
            {
                if (!stepped) return FirstStepBound;
                var learnt = slowest * StepMultiple;
                return learnt > Floor ? learnt : Floor;
            }
        }
    }

    /// <summary>The last step this process completed (0 before its first).</summary>
    public int LastStep { get { lock (gate) return lastStep; } }

    /// <summary>The slowest step timed so far (zero before the first).</summary>
    public TimeSpan SlowestStep { get { lock (gate) return slowest; } }

    /// <summary>Called once a step is done (its optimizer update and anything after it: validation, a checkpoint).</summary>
    /// <param name="step">The step just completed, counted over the whole run (1 is the first).</param>
    /// <param name="duration">The step's own time, as the loop measured it; the time since the previous report is
    /// used when it is longer (it also holds the wait for rank 0's checkpoint writing).</param>
    public void StepCompleted(int step, TimeSpan duration)
    {
        var now = clock();
        lock (gate)
        {
            var taken = lastReport is { } previous && now - previous > duration ? now - previous : duration;
            if (taken > slowest) slowest = taken;
            lastReport = now;
            lastStep = step;
            stepped = true;
        }
    }

    /// <summary>Where <see cref="Current"/> comes from, for the message of a wait that ran out.</summary>
    public string Describe()
    {
        if (fixedBound.HasValue) return $"{CommunicationTimeout.Variable} fixes it";
        lock (gate)
            return stepped
                ? string.Create(CultureInfo.InvariantCulture, $"learnt from this run: {StepMultiple} × its slowest step so far ({slowest.TotalSeconds:0.###} s), at least {Floor.TotalSeconds:0} s")
                : "the bound for set-up and the first step, before a step's pace is known";
    }

    /// <summary>Where in the run a wait ran out: "in step 13", or "in set-up or the first step" (of this process).</summary>
    public string Where()
    {
        lock (gate) return stepped ? $"in step {lastStep + 1}" : "in set-up or the first step";
    }
}
