using System.Diagnostics.CodeAnalysis;

namespace Engine.Corpus;

/// <summary>
/// One structured prescription direction. The shorthand and the English are both rendered from
/// this record, so a corpus line can never disagree with itself, and
/// <see cref="PrescriptionCorpus.Expand"/> is just <see cref="Parse"/> followed by
/// <see cref="ToEnglish"/>.
/// </summary>
/// <remarks>
/// Word order is fixed in both languages: quantity, form, route, frequency, then the optional
/// timing, prn reason and duration. A fixed order keeps the mapping learnable by a tiny model;
/// the variety comes from the vocabulary, not from reordering.
/// </remarks>
public sealed record Sig(
    LinePrefix? Prefix,
    Quantity Quantity,
    DoseForm Form,
    Route Route,
    Frequency Frequency,
    Timing? Timing = null,
    PrnReason? Reason = null,
    Duration? Duration = null)
{
    /// <summary>E.g. "sig: 1-2 tabs po q4-6h prn pain".</summary>
    public string ToShorthand()
    {
        var words = new List<string>(9);
        if (Prefix is not null) words.Add(Prefix.Shorthand);
        words.Add(Quantity.Shorthand);
        words.Add(Form.ShorthandFor(Quantity));
        words.Add(Route.Shorthand);
        words.Add(Frequency.Shorthand);
        if (Timing is not null) words.Add(Timing.Shorthand);
        if (Reason is not null) words.Add("prn " + Reason.Shorthand);
        if (Duration is not null) words.Add(Duration.Shorthand);
        return string.Join(' ', words);
    }

    /// <summary>E.g. "take one to two tablets by mouth every four to six hours as needed for pain".</summary>
    public string ToEnglish()
    {
        var words = new List<string>(9)
        {
            Route.Verb,
            Quantity.English,
            Form.EnglishFor(Quantity),
            Route.English,
            Frequency.English,
        };
        if (Timing is not null) words.Add(Timing.English);
        if (Reason is not null) words.Add("as needed for " + Reason.English);
        if (Duration is not null) words.Add(Duration.English);
        return string.Join(' ', words);
    }

    /// <summary>One corpus line, without the trailing newline.</summary>
    public string ToLine() => ToShorthand() + PrescriptionCorpus.Separator + ToEnglish();

    /// <summary>What a model is given to continue: the shorthand and " =>".</summary>
    public string ToPrompt() => ToShorthand() + PrescriptionCorpus.Separator.TrimEnd();

    /// <summary>The part written at <paramref name="slot"/>, or null if that optional slot is empty.</summary>
    public ISigPart? PartAt(SigSlot slot) => slot switch
    {
        SigSlot.Prefix => Prefix,
        SigSlot.Quantity => Quantity,
        SigSlot.Form => Form,
        SigSlot.Route => Route,
        SigSlot.Frequency => Frequency,
        SigSlot.Timing => Timing,
        SigSlot.Reason => Reason,
        SigSlot.Duration => Duration,
        _ => throw new ArgumentOutOfRangeException(nameof(slot)),
    };

    /// <summary>
    /// Reads shorthand as written by <see cref="ToShorthand"/>; the prefix is optional and
    /// anything from "=>" on is ignored, so a prompt or a whole corpus line can be passed.
    /// </summary>
    public static bool TryParse(string shorthand, [NotNullWhen(true)] out Sig? sig) =>
        SigParser.TryParse(shorthand, out sig);

    /// <exception cref="FormatException">The text is not a sig this grammar can read.</exception>
    public static Sig Parse(string shorthand) =>
        TryParse(shorthand, out var sig) ? sig : throw new FormatException($"Not a sig line: '{shorthand}'");
}
