namespace Engine.Corpus;

/// <summary>
/// Route of administration. Each route also fixes the verb of the English instruction, because
/// pharmacy labels say "take ... by mouth" but "instill ... in the left eye" and
/// "inject ... under the skin".
/// </summary>
public sealed record Route(string Id, string Shorthand, string Verb, string English) : ISigPart
{
    public static readonly Route Po = new("po", "po", "take", "by mouth");
    public static readonly Route Sl = new("sl", "sl", "place", "under the tongue");
    public static readonly Route Pr = new("pr", "pr", "insert", "rectally");
    public static readonly Route Top = new("top", "top", "apply", "to the skin");
    public static readonly Route Od = new("od", "od", "instill", "in the right eye");
    public static readonly Route Os = new("os", "os", "instill", "in the left eye");
    public static readonly Route Ou = new("ou", "ou", "instill", "in both eyes");
    public static readonly Route Ad = new("ad", "ad", "instill", "in the right ear");
    public static readonly Route As = new("as", "as", "instill", "in the left ear");
    public static readonly Route Au = new("au", "au", "instill", "in both ears");
    public static readonly Route Inh = new("inh", "inh", "take", "by inhalation");
    public static readonly Route Subq = new("subq", "subq", "inject", "under the skin");
    // Older spelling of subcutaneous; same Id so held-out rules treat both as one route.
    public static readonly Route Sc = new("subq", "sc", "inject", "under the skin");
    public static readonly Route Im = new("im", "im", "inject", "into the muscle");

    public static readonly IReadOnlyList<Route> All = [Po, Sl, Pr, Top, Od, Os, Ou, Ad, As, Au, Inh, Subq, Sc, Im];
}
