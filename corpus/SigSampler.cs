namespace Engine.Corpus;

/// <summary>
/// Decides, for one slot, whether a candidate part (null = "leave this optional slot empty") may
/// be drawn. Used to pin slots: to force a held-out combination into validation, or to force a
/// particular abbreviation into Train so coverage is guaranteed rather than left to chance.
/// </summary>
internal delegate bool PartFilter(SigSlot slot, ISigPart? part);

/// <summary>
/// Draws random, medically sensible sigs: pick a dosing profile, then each slot from that
/// profile's lists, keeping only what <see cref="MedicalRules"/> and the caller's
/// <see cref="PartFilter"/> allow. A dead end (no allowed choice left) restarts the draw; the
/// profiles are dense enough that restarts are rare.
/// </summary>
internal static class SigSampler
{
    public static readonly PartFilter Anything = static (_, _) => true;

    private const int MaxAttempts = 20_000;

    /// <summary>
    /// The medical rules depend only on (profile, frequency), so they are evaluated once here
    /// rather than per draw: string-keyed rule lookups were most of the cost of a draw, and the
    /// default corpus needs tens of thousands of draws in well under a second.
    /// </summary>
    private static readonly CompiledProfile[] AllProfiles = [.. PrescriptionGrammar.Profiles.Select(Compile)];

    /// <summary>Draws until a sig passes <paramref name="filter"/> slot by slot and <paramref name="keep"/> as a whole.</summary>
    /// <exception cref="InvalidOperationException">The request is unsatisfiable (a grammar bug).</exception>
    public static Sig Draw(CorpusRng rng, PartFilter filter, Func<Sig, bool> keep)
    {
        var profiles = ReferenceEquals(filter, Anything)
            ? AllProfiles
            : AllProfiles.Where(p => CouldSatisfy(p.Profile, filter)).ToArray();
        if (profiles.Length > 0)
        {
            for (int attempt = 0; attempt < MaxAttempts; attempt++)
            {
                var sig = TryDraw(rng, profiles, filter);
                if (sig is not null && keep(sig)) return sig;
            }
        }
        throw new InvalidOperationException("The prescription grammar cannot produce a sig satisfying this request.");
    }

    private static Sig? TryDraw(CorpusRng rng, CompiledProfile[] profiles, PartFilter filter)
    {
        var compiled = profiles[PickWeightedIndex(rng, profiles)];
        var profile = compiled.Profile;

        var prefix = PickPrefix(rng, filter);
        var quantity = PickUniform(rng, profile.Quantities, SigSlot.Quantity, filter);
        var route = PickUniform(rng, profile.Routes, SigSlot.Route, filter);
        int f = PickUniformIndex(rng, profile.Frequencies, SigSlot.Frequency, filter);
        if (prefix is null || quantity is null || route is null || f < 0) return null;
        var frequency = profile.Frequencies[f];
        var choices = compiled.ByFrequency[f];

        bool prnRequired = choices.PrnRequired || !MedicalRules.QuantityFits(quantity, null);
        if (!TryPickOptional(rng, choices.Reasons, profile.PrnChance, prnRequired, SigSlot.Reason, filter,
                out var reason))
            return null;

        Timing? timing = null;
        if (reason is null)
        {
            double chance = choices.TimingRequired ? 1.0 : profile.TimingChance;
            if (!TryPickOptional(rng, choices.Timings, chance, choices.TimingRequired, SigSlot.Timing, filter,
                    out timing))
                return null;
        }
        else if (choices.TimingRequired || !filter(SigSlot.Timing, null))
        {
            return null; // a prn dose cannot also be tied to meals
        }

        if (!TryPickOptional(rng, choices.Durations, profile.DurationChance, false, SigSlot.Duration, filter,
                out var duration))
            return null;

        return new Sig(prefix, quantity, profile.Form, route, frequency, timing, reason, duration);
    }

    /// <summary>Cheap pre-check so pinned draws only try profiles that contain the pinned parts.</summary>
    private static bool CouldSatisfy(DosingProfile p, PartFilter filter) =>
        filter(SigSlot.Form, p.Form)
        && p.Quantities.Any(q => filter(SigSlot.Quantity, q))
        && p.Routes.Any(r => filter(SigSlot.Route, r))
        && p.Frequencies.Any(f => filter(SigSlot.Frequency, f))
        && (filter(SigSlot.Reason, null) || p.Reasons.Any(r => filter(SigSlot.Reason, r)))
        && (filter(SigSlot.Timing, null) || p.Timings.Any(t => filter(SigSlot.Timing, t)))
        && (filter(SigSlot.Duration, null) || p.Durations.Any(d => filter(SigSlot.Duration, d)));

    private static LinePrefix? PickPrefix(CorpusRng rng, PartFilter filter)
    {
        double total = 0;
        foreach (var p in LinePrefix.All)
            if (filter(SigSlot.Prefix, p)) total += p.Weight;
        if (total <= 0) return null;
        double x = rng.NextDouble() * total;
        LinePrefix? last = null;
        foreach (var p in LinePrefix.All)
        {
            if (!filter(SigSlot.Prefix, p)) continue;
            last = p;
            x -= p.Weight;
            if (x < 0) return p;
        }
        return last; // only reached through floating-point rounding
    }

    private static int PickWeightedIndex(CorpusRng rng, CompiledProfile[] profiles)
    {
        double total = 0;
        foreach (var p in profiles) total += p.Profile.Weight;
        double x = rng.NextDouble() * total;
        for (int i = 0; i < profiles.Length; i++)
        {
            x -= profiles[i].Profile.Weight;
            if (x < 0) return i;
        }
        return profiles.Length - 1;
    }

    private static T? PickUniform<T>(CorpusRng rng, IReadOnlyList<T> items, SigSlot slot, PartFilter filter)
        where T : class, ISigPart
    {
        int i = PickUniformIndex(rng, items, slot, filter);
        return i < 0 ? null : items[i];
    }

    /// <summary>Uniform among the items the filter allows; -1 if none.</summary>
    private static int PickUniformIndex<T>(CorpusRng rng, IReadOnlyList<T> items, SigSlot slot, PartFilter filter)
        where T : class, ISigPart
    {
        int allowed = 0;
        for (int i = 0; i < items.Count; i++)
            if (filter(slot, items[i])) allowed++;
        if (allowed == 0) return -1;

        int chosen = rng.NextInt(allowed);
        for (int i = 0; i < items.Count; i++)
            if (filter(slot, items[i]) && chosen-- == 0) return i;
        return -1; // unreachable
    }

    /// <summary>
    /// An optional slot: empty with probability 1 - <paramref name="chance"/>, otherwise a uniform
    /// pick among the allowed items. If empty is not allowed (the rules require the slot, or the
    /// filter pins it), an item is chosen whatever the chance; false when nothing is allowed.
    /// </summary>
    private static bool TryPickOptional<T>(
        CorpusRng rng, IReadOnlyList<T> items, double chance, bool required, SigSlot slot, PartFilter filter,
        out T? value) where T : class, ISigPart
    {
        value = null;
        bool emptyAllowed = !required && filter(slot, null);
        double emptyWeight = emptyAllowed ? Math.Max(0, 1 - chance) : 0;
        bool anyPresent = false;
        foreach (var item in items)
            if (filter(slot, item)) { anyPresent = true; break; }
        double presentWeight = anyPresent ? (emptyWeight == 0 ? 1 : chance) : 0;
        if (emptyWeight + presentWeight <= 0) return false;
        if (rng.NextDouble() * (emptyWeight + presentWeight) < emptyWeight) return true;

        value = PickUniform(rng, items, slot, filter);
        return true;
    }

    /// <summary>What the rules allow in the optional slots once a profile's frequency is known.</summary>
    private sealed record FrequencyChoices(
        PrnReason[] Reasons, bool PrnRequired, Timing[] Timings, bool TimingRequired, Duration[] Durations);

    private sealed record CompiledProfile(DosingProfile Profile, FrequencyChoices[] ByFrequency);

    private static CompiledProfile Compile(DosingProfile p) => new(p,
    [
        .. p.Frequencies.Select(f => new FrequencyChoices(
            Reasons: [.. p.Reasons.Where(r => MedicalRules.ReasonFits(f, r))],
            PrnRequired: !MedicalRules.ReasonFits(f, null),
            // Timings are listed for the non-prn case; TryDraw forbids timing on prn draws.
            Timings: [.. p.Timings.Where(t => MedicalRules.TimingFits(f, t, null))],
            TimingRequired: p.TimingRequiredFor.Contains(f),
            Durations: [.. p.Durations.Where(d => MedicalRules.DurationFits(f, d))])),
    ]);
}
