using System.Globalization;

namespace Engine.Planning;

/// <summary>Reads the sizes people write: 124M, 7.5B, 1.4T, 1e21, 3.5pf-days.</summary>
public static class Quantity
{
    /// <summary>One petaFLOP/s-day: 10^15 FLOP/s for 86 400 s.</summary>
    public const double PetaflopDay = 8.64e19;

    /// <summary>A count with an optional K, M, B (or G) or T suffix: 124M, 7.5B, 1.4T, 1e9.</summary>
    public static double ParseCount(string text, EngineOption flag)
    {
        string t = text.Trim();
        double scale = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            scale = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1e3, 'M' => 1e6, 'B' or 'G' => 1e9, 'T' => 1e12,
                _ => throw new EngineException(flag, $"{flag} {text}: the suffix '{t[^1]}' is not K, M, B or T (e.g. {flag} 7.5B or {flag} 7.5e9)"),
            };
            t = t[..^1];
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value <= 0)
            throw new EngineException(flag, $"{flag} {text} is not a positive number (e.g. {flag} 7.5B or {flag} 7.5e9)");
        return value * scale;
    }

    /// <summary>A compute budget in FLOPs (1e21) or petaFLOP/s-days (3.5pf-days, 3.5pfdays, 3.5 pf-day).</summary>
    public static double ParseFlops(string text, EngineOption flag)
    {
        string t = text.Trim().ToLowerInvariant().Replace(" ", "");
        foreach (var unit in new[] { "pf-days", "pfdays", "pf-day", "pfday", "pfs-days", "pfs-day" })
            if (t.EndsWith(unit, StringComparison.Ordinal))
                return Positive(t[..^unit.Length], text, flag) * PetaflopDay;
        return Positive(t, text, flag);
    }

    static double Positive(string number, string original, EngineOption flag) =>
        double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value) && value > 0
            ? value
            : throw new EngineException(flag, $"{flag} {original} is not a positive number of FLOPs or petaFLOP/s-days (e.g. {flag} 1e21 or {flag} 3.5pf-days)");

    /// <summary>1.2e9 → "1.20 B", for tables.</summary>
    public static string Short(double value)
    {
        var c = CultureInfo.InvariantCulture;
        double a = Math.Abs(value);
        return a >= 1e12 ? (value / 1e12).ToString("0.##", c) + "T"
            : a >= 1e9 ? (value / 1e9).ToString("0.##", c) + "B"
            : a >= 1e6 ? (value / 1e6).ToString("0.##", c) + "M"
            : a >= 1e3 ? (value / 1e3).ToString("0.##", c) + "K"
            : value.ToString("0.##", c);
    }
}
