using System.Globalization;

namespace Engine.Corpus;

/// <summary>
/// How much per dose, as written ("1/2", "1-2", "2.5") and as said ("half a", "one to two",
/// "two and a half"). <see cref="TakesSingular"/> decides the noun: "half a tablet" and
/// "one tablet" but "one to two tablets" and "two and a half milliliters".
/// </summary>
public sealed record Quantity(string Shorthand, string English, bool TakesSingular) : ISigPart
{
    public string Id => Shorthand;

    /// <summary>A dose range such as "1-2": the patient chooses, so it is only written for prn doses.</summary>
    public bool IsRange => Shorthand.Contains('-');

    public static Quantity Whole(int n) =>
        new(n.ToString(CultureInfo.InvariantCulture), NumberWords.Spell(n), n == 1);

    /// <summary>Half a tablet or teaspoon, written as the fraction "1/2" as on paper scripts.</summary>
    public static Quantity HalfFraction { get; } = new("1/2", "half a", true);

    /// <summary>
    /// Decimal volumes: 0.5, 2.5, 7.5. Written with a leading zero and never a trailing zero
    /// (".5" and "5.0" are classic ten-fold dosing errors), as safe-practice rules require.
    /// </summary>
    public static Quantity AndAHalf(int whole) => whole == 0
        ? new("0.5", "half a", true)
        : new($"{whole.ToString(CultureInfo.InvariantCulture)}.5", $"{NumberWords.Spell(whole)} and a half", false);

    /// <summary>A dose range, "1-2" -> "one to two"; the noun is always plural.</summary>
    public static Quantity Range(int low, int high) =>
        new($"{low.ToString(CultureInfo.InvariantCulture)}-{high.ToString(CultureInfo.InvariantCulture)}",
            $"{NumberWords.Spell(low)} to {NumberWords.Spell(high)}", false);

    /// <summary>
    /// Reads any quantity token of the shapes above, not only those the grammar draws, so
    /// <see cref="PrescriptionCorpus.Expand"/> also works on hand-written lines.
    /// </summary>
    public static bool TryParse(string token, out Quantity quantity)
    {
        quantity = null!;
        if (token == "1/2") { quantity = HalfFraction; return true; }

        int dash = token.IndexOf('-');
        if (dash > 0)
        {
            if (TryWhole(token[..dash], out int low) && TryWhole(token[(dash + 1)..], out int high) && low < high)
            {
                quantity = Range(low, high);
                return true;
            }
            return false;
        }

        if (token.EndsWith(".5", StringComparison.Ordinal))
        {
            if (TryWhole(token[..^2], out int whole)) { quantity = AndAHalf(whole); return true; }
            return false;
        }

        if (TryWhole(token, out int n) && n > 0) { quantity = Whole(n); return true; }
        return false;
    }

    private static bool TryWhole(string s, out int value)
    {
        value = 0;
        // Digits only: rejects "+1", " 1", "1e2" which int.TryParse would be lenient about.
        if (s.Length == 0 || s.Length > 3 || !s.All(char.IsAsciiDigit)) return false;
        if (s.Length > 1 && s[0] == '0') return false;
        value = int.Parse(s, CultureInfo.InvariantCulture);
        return true;
    }
}
