using System.Globalization;

namespace Engine.Corpus;

public enum DurationUnit { Days, Weeks, Months }

/// <summary>
/// Length of a course: "x 7d" -> "for seven days", "x 2 wk" -> "for two weeks",
/// "x 1 mo" -> "for one month". Days are written glued to the number, weeks and months
/// spaced, which is how they commonly appear on scripts.
/// </summary>
public sealed record Duration(int Count, DurationUnit Unit) : ISigPart
{
    public string Id => Shorthand;

    public string Shorthand => Unit switch
    {
        DurationUnit.Days => $"x {Count.ToString(CultureInfo.InvariantCulture)}d",
        DurationUnit.Weeks => $"x {Count.ToString(CultureInfo.InvariantCulture)} wk",
        _ => $"x {Count.ToString(CultureInfo.InvariantCulture)} mo",
    };

    public string English
    {
        get
        {
            string noun = Unit switch { DurationUnit.Days => "day", DurationUnit.Weeks => "week", _ => "month" };
            return $"for {NumberWords.Spell(Count)} {noun}{(Count == 1 ? "" : "s")}";
        }
    }

    /// <summary>Calendar length, used to check a course spans at least two doses.</summary>
    public int TotalDays => Unit switch
    {
        DurationUnit.Days => Count,
        DurationUnit.Weeks => Count * 7,
        _ => Count * 30,
    };

    private static Duration D(int n) => new(n, DurationUnit.Days);
    private static Duration W(int n) => new(n, DurationUnit.Weeks);
    private static Duration M(int n) => new(n, DurationUnit.Months);

    /// <summary>Antibiotic-style courses: eye and ear drops, short oral courses.</summary>
    public static readonly IReadOnlyList<Duration> ShortCourses = [D(3), D(5), D(7), D(10), D(14), W(1), W(2)];

    /// <summary>Maintenance courses: patches, weekly injections.</summary>
    public static readonly IReadOnlyList<Duration> LongCourses = [D(30), W(2), W(4), W(6), M(1), M(3)];

    public static readonly IReadOnlyList<Duration> All =
        [D(3), D(5), D(7), D(10), D(14), D(30), W(1), W(2), W(3), W(4), W(6), M(1), M(3)];
}
