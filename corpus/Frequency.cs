namespace Engine.Corpus;

/// <summary>
/// How often. <see cref="IntervalHours"/> is the (approximate) spacing between doses and is used
/// only to keep durations sensible (a course must allow at least two doses); it is null for
/// "stat" and "q5min", which are not schedules and never take a duration.
/// </summary>
public sealed record Frequency(string Id, string Shorthand, string English, int? IntervalHours) : ISigPart
{
    public static readonly Frequency Qd = new("qd", "qd", "once a day", 24);
    // Many prescribers write "daily" precisely because "qd" is easily misread; keep both.
    public static readonly Frequency Daily = new("qd", "daily", "once a day", 24);
    public static readonly Frequency Bid = new("bid", "bid", "twice a day", 12);
    public static readonly Frequency Tid = new("tid", "tid", "three times a day", 8);
    public static readonly Frequency Qid = new("qid", "qid", "four times a day", 6);
    public static readonly Frequency Q4h = new("q4h", "q4h", "every four hours", 4);
    public static readonly Frequency Q6h = new("q6h", "q6h", "every six hours", 6);
    public static readonly Frequency Q8h = new("q8h", "q8h", "every eight hours", 8);
    public static readonly Frequency Q12h = new("q12h", "q12h", "every twelve hours", 12);
    public static readonly Frequency Q4To6h = new("q4-6h", "q4-6h", "every four to six hours", 4);
    public static readonly Frequency Q5min = new("q5min", "q5min", "every five minutes", null);
    public static readonly Frequency Q72h = new("q72h", "q72h", "every seventy-two hours", 72);
    public static readonly Frequency Qhs = new("qhs", "qhs", "at bedtime", 24);
    public static readonly Frequency Qam = new("qam", "qam", "every morning", 24);
    public static readonly Frequency Qpm = new("qpm", "qpm", "every evening", 24);
    public static readonly Frequency Qod = new("qod", "qod", "every other day", 48);
    public static readonly Frequency Qwk = new("qwk", "qwk", "once a week", 168);
    public static readonly Frequency Stat = new("stat", "stat", "immediately", null);

    public static readonly IReadOnlyList<Frequency> All =
        [Qd, Daily, Bid, Tid, Qid, Q4h, Q6h, Q8h, Q12h, Q4To6h, Q5min, Q72h, Qhs, Qam, Qpm, Qod, Qwk, Stat];
}
