namespace Engine.Corpus;

/// <summary>
/// Rules that cross slots and hold for every dosing profile. Per-product facts (which routes a
/// tablet can take, which doses a patch comes in) live in <see cref="PrescriptionGrammar"/>; this
/// file holds the rules about how frequency, prn, timing and duration combine.
/// </summary>
internal static class MedicalRules
{
    /// <summary>A range interval or nitroglycerin's q5min only make sense as needed.</summary>
    private static readonly HashSet<string> PrnOnlyFrequencies = ["q4-6h", "q5min"];

    /// <summary>
    /// "As needed" needs a repeatable interval. "stat" is a single dose; qod, qwk and q72h are
    /// fixed calendars (a weekly or three-day dose is never taken "as needed"); qam/qpm name a
    /// time of day, not a permission.
    /// </summary>
    private static readonly HashSet<string> PrnFrequencies =
        ["qd", "bid", "tid", "qid", "q4h", "q6h", "q8h", "q12h", "q4-6h", "q5min", "qhs"];

    /// <summary>Reasons that belong to specific schedules.</summary>
    private static readonly Dictionary<string, string[]> ReasonOnlyAt = new()
    {
        ["sleep"] = ["qhs"],                        // a sleep aid is taken at bedtime
        ["cp"] = ["q5min"],                         // sublingual nitroglycerin for chest pain
        ["sob"] = ["q4h", "q6h", "q4-6h", "qid"],   // rescue inhaler, not a once-daily controller
        ["wheezing"] = ["q4h", "q6h", "q4-6h", "qid"],
    };

    /// <summary>At bedtime, "as needed" only for night-time complaints.</summary>
    private static readonly HashSet<string> BedtimeReasons = ["sleep", "itching", "constipation"];

    /// <summary>Meal timings need a schedule tied to meals: ac/pc go with bid/tid (meals), the
    /// "&amp; hs" forms with qid (three meals plus bedtime). "With food" fits any daytime schedule.</summary>
    private static readonly Dictionary<string, string[]> TimingOnlyWith = new()
    {
        ["ac"] = ["bid", "tid"],
        ["pc"] = ["bid", "tid"],
        ["ac & hs"] = ["qid"],
        ["pc & hs"] = ["qid"],
        ["w/ food"] = ["qd", "bid", "tid", "qam", "qpm", "q8h", "q12h"],
    };

    public static bool ReasonFits(Frequency frequency, PrnReason? reason)
    {
        if (reason is null) return !PrnOnlyFrequencies.Contains(frequency.Id);
        if (!PrnFrequencies.Contains(frequency.Id)) return false;
        if (ReasonOnlyAt.TryGetValue(reason.Id, out var only) && !only.Contains(frequency.Id)) return false;
        if (frequency.Id == "q5min" && reason.Id != "cp") return false;
        if (frequency.Id == "qhs" && !BedtimeReasons.Contains(reason.Id)) return false;
        return true;
    }

    /// <summary>
    /// A range ("1-2 tabs") leaves the dose to the patient, which is only acceptable for an
    /// as-needed dose; a scheduled dose must be definite.
    /// </summary>
    public static bool QuantityFits(Quantity quantity, PrnReason? reason) => reason is not null || !quantity.IsRange;

    /// <summary>A prn dose has no fixed meal schedule, so timing and prn never combine.</summary>
    public static bool TimingFits(Frequency frequency, Timing? timing, PrnReason? reason) =>
        timing is null || (reason is null && TimingOnlyWith[timing.Id].Contains(frequency.Id));

    /// <summary>A course must allow at least two doses; one-off and q5min doses take no course.</summary>
    public static bool DurationFits(Frequency frequency, Duration? duration) =>
        duration is null || (frequency.IntervalHours is int hours && duration.TotalDays * 24 >= 2 * hours);
}
