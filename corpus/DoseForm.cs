namespace Engine.Corpus;

/// <summary>
/// The unit a dose is counted in. Shorthand and English both inflect with the quantity
/// ("1 tab" / "2 tabs", "one tablet" / "two tablets"); invariant abbreviations such as "gtt",
/// "mL", "tsp" have equal singular and plural spellings, as they are written in practice.
/// <see cref="Shorthand"/> is the singular abbreviation and identifies the form.
/// </summary>
public sealed record DoseForm(
    string Shorthand, string ShorthandPlural, string EnglishSingular, string EnglishPlural) : ISigPart
{
    public string Id => Shorthand;

    public string ShorthandFor(Quantity q) => q.TakesSingular ? Shorthand : ShorthandPlural;
    public string EnglishFor(Quantity q) => q.TakesSingular ? EnglishSingular : EnglishPlural;

    public static readonly DoseForm Tablet = new("tab", "tabs", "tablet", "tablets");
    public static readonly DoseForm Capsule = new("cap", "caps", "capsule", "capsules");
    public static readonly DoseForm Milliliter = new("mL", "mL", "milliliter", "milliliters");
    public static readonly DoseForm Teaspoon = new("tsp", "tsp", "teaspoon", "teaspoons");
    public static readonly DoseForm Tablespoon = new("tbsp", "tbsp", "tablespoon", "tablespoons");
    // "gtt" (guttae) is used for one drop or many on real scripts.
    public static readonly DoseForm Drop = new("gtt", "gtt", "drop", "drops");
    public static readonly DoseForm Puff = new("puff", "puffs", "puff", "puffs");
    public static readonly DoseForm Suppository = new("supp", "supps", "suppository", "suppositories");
    public static readonly DoseForm Patch = new("patch", "patches", "patch", "patches");
    // Insulin is dosed in units; "u" is a banned abbreviation (misread as 0 or 4), so it is spelled.
    public static readonly DoseForm Unit = new("unit", "units", "unit", "units");

    public static readonly IReadOnlyList<DoseForm> All =
        [Tablet, Capsule, Milliliter, Teaspoon, Tablespoon, Drop, Puff, Suppository, Patch, Unit];
}
