using System.Text.RegularExpressions;
using Engine.Tokenizers;

namespace Engine.TokenizerTraining;

/// <summary>
/// The word counts BPE training learns from: text split by GPT-2's pre-tokenisation regex (a word keeps its leading
/// space, so " the" and "the" are different words), after cutting out the special tokens so none of them is learnt
/// from. Merges never cross a word boundary, and a word seen a million times is one entry with its count, which is
/// what makes training fast.
/// </summary>
public sealed class PreTokenizedWords
{
    static readonly Regex Split = new(BpeModelDefinition.Gpt2SplitPattern, RegexOptions.Compiled);

    readonly Dictionary<string, long> counts = new(StringComparer.Ordinal);
    readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> lookup;
    readonly IReadOnlyList<string> specialTokens;

    public PreTokenizedWords(IReadOnlyList<string> specialTokens)
    {
        lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        // Longest first, so a special token that contains another is cut whole.
        this.specialTokens = specialTokens.Where(s => s.Length > 0).OrderByDescending(s => s.Length).ToList();
    }

    /// <summary>Distinct words and their counts.</summary>
    public IReadOnlyDictionary<string, long> Counts => counts;

    /// <summary>Characters of text read, special tokens included.</summary>
    public long Characters { get; private set; }

    public void Add(string text)
    {
        Characters += text.Length;
        // Where each special token next occurs at or after the cursor (text.Length: nowhere), searched again only
        // once the cursor passes it, so a text full of one special token is not rescanned for the others.
        var next = new int[specialTokens.Count];
        for (int i = 0; i < next.Length; i++) next[i] = Find(text, specialTokens[i], 0);
        int start = 0;
        while (start < text.Length)
        {
            int at = text.Length, length = 0;
            for (int i = 0; i < next.Length; i++)
            {
                if (next[i] < start) next[i] = Find(text, specialTokens[i], start);
                if (next[i] < at) (at, length) = (next[i], specialTokens[i].Length);
            }
            AddSegment(text.AsSpan(start, at - start));
            start = at + length;
        }
    }

    static int Find(string text, string special, int from)
    {
        int at = text.IndexOf(special, from, StringComparison.Ordinal);
        return at < 0 ? text.Length : at;
    }

    void AddSegment(ReadOnlySpan<char> segment)
    {
        foreach (ValueMatch match in Split.EnumerateMatches(segment))
        {
            ReadOnlySpan<char> word = segment.Slice(match.Index, match.Length);
            lookup[word] = lookup.TryGetValue(word, out long n) ? n + 1 : 1;
        }
    }
}
