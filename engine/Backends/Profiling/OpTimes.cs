using System.Globalization;
using System.Text;

namespace Engine.Backends.Profiling;

/// <summary>Total time and call count per op name, and the sorted table a user reads.</summary>
public sealed class OpTimes
{
    readonly Dictionary<string, (TimeSpan Total, long Calls)> byOp = new();

    public void Add(string op, TimeSpan elapsed)
    {
        byOp.TryGetValue(op, out var entry);
        byOp[op] = (entry.Total + elapsed, entry.Calls + 1);
    }

    public void Clear() => byOp.Clear();

    public IReadOnlyList<(string Op, TimeSpan Total, long Calls)> Sorted() =>
        byOp.Select(kv => (kv.Key, kv.Value.Total, kv.Value.Calls)).OrderByDescending(e => e.Total).ToList();

    /// <summary>Per op: ms per step, share of the step, calls per step; the step time is measured separately.</summary>
    public string Table(int steps, TimeSpan wallPerStep)
    {
        var sb = new StringBuilder();
        var ops = Sorted();
        double stepMs = wallPerStep.TotalMilliseconds;
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{"op",-24} {"ms/step",9} {"share",7} {"calls/step",10}"));
        double sumMs = 0;
        foreach (var (op, total, calls) in ops)
        {
            double ms = total.TotalMilliseconds / steps;
            sumMs += ms;
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{op,-24} {ms,9:F2} {100 * ms / stepMs,6:F1}% {(double)calls / steps,10:F0}"));
        }
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{"(outside ops)",-24} {stepMs - sumMs,9:F2} {100 * (stepMs - sumMs) / stepMs,6:F1}%"));
        sb.Append(string.Create(CultureInfo.InvariantCulture, $"{"step",-24} {stepMs,9:F2} {100.0,6:F1}%"));
        return sb.ToString();
    }
}
