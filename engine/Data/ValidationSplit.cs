namespace Engine.Data;

/// <summary>
/// Which documents go to the validation split: <see cref="ValidationDocuments"/> of them, spread evenly through the
/// corpus (document i is validation when ⌊(i+1)·v/N⌋ &gt; ⌊i·v/N⌋). Spreading, rather than taking the last fraction,
/// keeps a corpus read from sorted folders from putting one whole source in validation. Deterministic: the same inputs
/// always give the same split, on any machine.
/// </summary>
public sealed class ValidationSplit
{
    public long Documents { get; }
    public long ValidationDocuments { get; }

    public ValidationSplit(long documents, double valFraction)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(documents);
        CheckFraction(valFraction);
        Documents = documents;
        // At least one document on each side when there are two or more, so neither split is ever empty.
        ValidationDocuments = valFraction == 0 || documents < 2
            ? 0
            : Math.Clamp((long)Math.Round(documents * valFraction), 1, documents - 1);
    }

    public bool IsValidation(long documentIndex) =>
        ValidationDocuments > 0 &&
        (documentIndex + 1) * ValidationDocuments / Documents > documentIndex * ValidationDocuments / Documents;

    /// <summary>
    /// With a single document the split is by tokens instead: this many of its last tokens go to validation.
    /// </summary>
    public static int ValidationTokensOfSingleDocument(int tokens, double valFraction)
    {
        CheckFraction(valFraction);
        return valFraction == 0 || tokens < 2 ? 0 : (int)Math.Clamp(Math.Round(tokens * valFraction), 1, tokens - 1);
    }

    private static void CheckFraction(double valFraction)
    {
        if (!(valFraction >= 0 && valFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(valFraction), valFraction, "the validation fraction must be in [0, 1)");
    }
}
