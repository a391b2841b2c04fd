namespace Engine.Corpus;

/// <summary>
/// When a dose is taken relative to meals or sleep. "ac &amp; hs" and "pc &amp; hs" are single
/// items because they only make sense together with qid: three meals plus bedtime is four doses.
/// </summary>
public sealed record Timing(string Shorthand, string English) : ISigPart
{
    public string Id => Shorthand;

    public static readonly Timing Ac = new("ac", "before meals");
    public static readonly Timing Pc = new("pc", "after meals");
    public static readonly Timing AcHs = new("ac & hs", "before meals and at bedtime");
    public static readonly Timing PcHs = new("pc & hs", "after meals and at bedtime");
    public static readonly Timing WithFood = new("w/ food", "with food");

    public static readonly IReadOnlyList<Timing> All = [Ac, Pc, AcHs, PcHs, WithFood];
}
