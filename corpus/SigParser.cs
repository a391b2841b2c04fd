using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Engine.Corpus;

/// <summary>
/// Turns shorthand back into a <see cref="Sig"/>. It is a small left-to-right reader rather than a
/// regex because several items contain spaces ("pc &amp; hs", "w/ food", "dry eyes") and some are
/// prefixes of others ("pc" / "pc &amp; hs"): at each position the longest known spelling wins.
/// </summary>
internal static class SigParser
{
    public static bool TryParse(string text, [NotNullWhen(true)] out Sig? sig)
    {
        sig = null;
        int arrow = text.IndexOf("=>", StringComparison.Ordinal);
        if (arrow >= 0) text = text[..arrow];
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var r = new Reader(words);

        var prefix = r.TakeLongest(LinePrefix.All, p => [p.Shorthand]);
        if (!r.TakeWord(out string quantityWord) || !Quantity.TryParse(quantityWord, out var quantity)) return false;
        var form = r.TakeLongest(DoseForm.All, f => [f.Shorthand, f.ShorthandPlural]);
        var route = r.TakeLongest(Route.All, x => [x.Shorthand]);
        var frequency = r.TakeLongest(Frequency.All, f => [f.Shorthand]);
        if (form is null || route is null || frequency is null) return false;

        var timing = r.TakeLongest(Timing.All, t => [t.Shorthand]);

        PrnReason? reason = null;
        if (r.TakeExact("prn"))
        {
            reason = r.TakeLongest(PrnReason.All, x => [x.Shorthand]);
            if (reason is null) return false;
        }

        Duration? duration = null;
        if (r.TakeExact("x"))
        {
            duration = TakeDuration(r);
            if (duration is null) return false;
        }

        if (!r.AtEnd) return false;
        sig = new Sig(prefix, quantity, form, route, frequency, timing, reason, duration);
        return true;
    }

    /// <summary>Reads "7d", "2 wk" or "3 mo" (the "x" is already consumed).</summary>
    private static Duration? TakeDuration(Reader r)
    {
        if (!r.TakeWord(out string word)) return null;
        if (word.EndsWith('d') && TryCount(word[..^1], out int days)) return new Duration(days, DurationUnit.Days);
        if (!TryCount(word, out int n)) return null;
        if (r.TakeExact("wk")) return new Duration(n, DurationUnit.Weeks);
        if (r.TakeExact("mo")) return new Duration(n, DurationUnit.Months);
        return null;
    }

    private static bool TryCount(string s, out int n)
    {
        n = 0;
        return s.Length is > 0 and <= 3 && s.All(char.IsAsciiDigit) && s[0] != '0'
            && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n);
    }

    /// <summary>A cursor over whitespace-separated words.</summary>
    private sealed class Reader(string[] words)
    {
        private int _pos;

        public bool AtEnd => _pos == words.Length;

        public bool TakeWord(out string word)
        {
            word = AtEnd ? "" : words[_pos];
            if (AtEnd) return false;
            _pos++;
            return true;
        }

        public bool TakeExact(string word)
        {
            if (AtEnd || words[_pos] != word) return false;
            _pos++;
            return true;
        }

        /// <summary>The item with the longest spelling (in words) that matches here, or null.</summary>
        public T? TakeLongest<T>(IEnumerable<T> items, Func<T, string[]> spellings) where T : class
        {
            T? best = null;
            int bestLength = 0;
            foreach (var item in items)
            {
                foreach (var spelling in spellings(item))
                {
                    var parts = spelling.Split(' ');
                    if (parts.Length > bestLength && Matches(parts))
                    {
                        best = item;
                        bestLength = parts.Length;
                    }
                }
            }
            _pos += bestLength;
            return best;
        }

        private bool Matches(string[] parts)
        {
            if (_pos + parts.Length > words.Length) return false;
            for (int i = 0; i < parts.Length; i++)
                if (words[_pos + i] != parts[i]) return false;
            return true;
        }
    }
}
