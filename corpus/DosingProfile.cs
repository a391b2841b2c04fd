namespace Engine.Corpus;

/// <summary>
/// One medically coherent kind of product, e.g. "oral tablet" or "eye drops": the form, the
/// routes it is given by, the doses it comes in and the schedules and prn reasons that go with
/// it. Sampling inside a profile is what keeps combinations sensible (no drops by mouth, no half
/// capsules, no inhaler "as needed for constipation").
/// </summary>
public sealed class DosingProfile
{
    public required string Name { get; init; }

    /// <summary>Relative frequency of this profile in the corpus (oral tablets dominate real scripts).</summary>
    public required double Weight { get; init; }

    public required DoseForm Form { get; init; }
    public required IReadOnlyList<Route> Routes { get; init; }
    public required IReadOnlyList<Quantity> Quantities { get; init; }
    public required IReadOnlyList<Frequency> Frequencies { get; init; }

    public IReadOnlyList<PrnReason> Reasons { get; init; } = [];
    /// <summary>Probability that a draw is "prn" (before the cross-slot rules filter it).</summary>
    public double PrnChance { get; init; }

    public IReadOnlyList<Timing> Timings { get; init; } = [];
    public double TimingChance { get; init; }
    /// <summary>Schedules that are meaningless without a timing (insulin "tid" must say "ac").</summary>
    public IReadOnlyList<Frequency> TimingRequiredFor { get; init; } = [];

    public IReadOnlyList<Duration> Durations { get; init; } = [];
    public double DurationChance { get; init; }

    /// <summary>Whether <paramref name="sig"/> could have been drawn from this profile.</summary>
    public bool Admits(Sig sig) =>
        sig.Form == Form
        && Routes.Contains(sig.Route)
        && Quantities.Contains(sig.Quantity)
        && Frequencies.Contains(sig.Frequency)
        && (sig.Reason is null || Reasons.Contains(sig.Reason))
        && (sig.Timing is null ? !TimingRequiredFor.Contains(sig.Frequency) : Timings.Contains(sig.Timing))
        && (sig.Duration is null || Durations.Contains(sig.Duration))
        && MedicalRules.QuantityFits(sig.Quantity, sig.Reason)
        && MedicalRules.ReasonFits(sig.Frequency, sig.Reason)
        && MedicalRules.TimingFits(sig.Frequency, sig.Timing, sig.Reason)
        && MedicalRules.DurationFits(sig.Frequency, sig.Duration);

    public override string ToString() => Name;
}
