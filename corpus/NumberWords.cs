namespace Engine.Corpus;

/// <summary>
/// Spells whole numbers in English ("seventy-two"). Expansions always spell numbers out so the
/// model has to learn the digit-to-word mapping rather than copy digits across the " => ".
/// </summary>
public static class NumberWords
{
    private static readonly string[] Small =
    [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    ];

    private static readonly string[] Tens =
        ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

    /// <summary>Spells 0..999. Larger doses never occur in sig lines, so we refuse them loudly.</summary>
    public static string Spell(int n)
    {
        if (n < 0 || n > 999) throw new ArgumentOutOfRangeException(nameof(n), n, "only 0..999 is supported");
        if (n < 20) return Small[n];
        if (n < 100) return n % 10 == 0 ? Tens[n / 10] : $"{Tens[n / 10]}-{Small[n % 10]}";
        string hundreds = $"{Small[n / 100]} hundred";
        return n % 100 == 0 ? hundreds : $"{hundreds} {Spell(n % 100)}";
    }
}
