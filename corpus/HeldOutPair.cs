namespace Engine.Corpus;

/// <summary>
/// A combination of two parts (by meaning, so aliases count) that never appears in Train. Each
/// part on its own does appear in Train, with other partners; a model that has learned the
/// pieces, rather than memorised whole lines, should still expand the pair correctly.
/// </summary>
public sealed record HeldOutPair(SigSlot SlotA, string IdA, SigSlot SlotB, string IdB)
{
    public bool Matches(Sig sig) => sig.PartAt(SlotA)?.Id == IdA && sig.PartAt(SlotB)?.Id == IdB;

    /// <summary>Pins both slots, so a draw is forced to contain this combination.</summary>
    internal bool Pins(SigSlot slot, ISigPart? part) =>
        slot == SlotA ? part?.Id == IdA
        : slot == SlotB ? part?.Id == IdB
        : true;

    public override string ToString() => $"{IdA} + {IdB}";

    /// <summary>
    /// The fixed held-out set. It does not depend on the seed, so validation numbers from
    /// different seeds measure the same generalisation gap. Each pair was chosen to be common
    /// in real prescribing (so the gap is not about rare words) while both halves stay frequent
    /// in Train with other partners.
    /// </summary>
    public static readonly IReadOnlyList<HeldOutPair> All =
    [
        // route x frequency: the right eye is seen with qd/bid/qid..., tid with every other route.
        new(SigSlot.Route, "od", SigSlot.Frequency, "tid"),
        // route x frequency: suppositories are seen q4h/q8h..., q6h with tablets, liquids, inhalers.
        new(SigSlot.Route, "pr", SigSlot.Frequency, "q6h"),
        // frequency x timing: "after meals" is seen with bid, tid with "before meals"/"with food".
        new(SigSlot.Frequency, "tid", SigSlot.Timing, "pc"),
        // form x frequency: capsules are seen q6h/q12h..., q8h with tablets and liquids.
        new(SigSlot.Form, "cap", SigSlot.Frequency, "q8h"),
        // reason x frequency: the most familiar prn line of all, "q4h prn pain", is never shown.
        new(SigSlot.Reason, "pain", SigSlot.Frequency, "q4h"),
        // route x frequency: bedtime insulin; subq/sc is seen qd/qam/tid ac..., qhs by mouth and in the eye.
        new(SigSlot.Route, "subq", SigSlot.Frequency, "qhs"),
    ];

    public static bool AnyMatches(Sig sig)
    {
        foreach (var pair in All)
            if (pair.Matches(sig)) return true;
        return false;
    }
}
