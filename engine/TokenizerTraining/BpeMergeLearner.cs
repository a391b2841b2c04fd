using System.Diagnostics;
using System.Text;
using Engine.Tokenizers;

namespace Engine.TokenizerTraining;

/// <summary>
/// Learns byte-level BPE merges from word counts, incrementally: the count of every adjacent symbol pair (weighted by
/// how often its word occurs) and the words each pair occurs in are kept up to date, so a merge rewrites only the
/// words holding its pair, and the most frequent pair comes from a priority queue instead of a recount.
/// The queue holds (pair, count) entries; an entry whose count is no longer the pair's is stale and skipped, since
/// every change of a count pushes the new one.
/// Ties between equally frequent pairs go to the pair whose left token, then right token, sorts first by ordinal
/// comparison of their byte-level spelling (as merges.txt shows them), so the same input gives the same merges.
/// </summary>
internal sealed class BpeMergeLearner
{
    readonly List<string> tokens = new();
    readonly Dictionary<string, int> idOf = new(StringComparer.Ordinal);
    readonly int[][] words;
    readonly int[] lengths;
    readonly long[] wordCounts;
    readonly Dictionary<long, long> pairCounts = new();
    readonly Dictionary<long, HashSet<int>> pairWords = new();
    readonly HashSet<long> merged = new();
    readonly PriorityQueue<long, (long Count, int Left, int Right)> queue;

    public BpeMergeLearner(IReadOnlyDictionary<string, long> wordCounts)
    {
        for (int b = 0; b < 256; b++) AddToken(ByteLevelSymbols.Of((byte)b).ToString());
        queue = new PriorityQueue<long, (long, int, int)>(Comparer<(long Count, int Left, int Right)>.Create(Better));

        // Words in ordinal order: the learner's state, and so its output, does not depend on dictionary order.
        var ordered = wordCounts.Keys.Order(StringComparer.Ordinal).ToArray();
        words = new int[ordered.Length][];
        lengths = new int[ordered.Length];
        this.wordCounts = new long[ordered.Length];
        for (int w = 0; w < ordered.Length; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(ordered[w]);
            words[w] = Array.ConvertAll(bytes, b => (int)b);
            lengths[w] = bytes.Length;
            this.wordCounts[w] = wordCounts[ordered[w]];
            AddPairs(w, +1);
        }
        foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, Left(pair), Right(pair)));
    }

    public IReadOnlyList<string> Tokens => tokens;
    public List<(string Left, string Right)> Merges { get; } = new();

    /// <summary>
    /// Merges until the vocabulary holds <paramref name="targetTokens"/> tokens or no pair is left to merge. Progress
    /// counts the <paramref name="reserved"/> tokens that will follow (the special tokens) in the vocabulary's size.
    /// </summary>
    public void Learn(int targetTokens, int reserved, Action<string>? progress)
    {
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (tokens.Count < targetTokens && NextPair() is long pair)
        {
            Merge(pair);
            if (progress != null && (clock.Elapsed - lastReport).TotalSeconds >= 2)
            {
                lastReport = clock.Elapsed;
                progress(Progress(targetTokens, reserved, clock.Elapsed));
            }
        }
        progress?.Invoke(Progress(targetTokens, reserved, clock.Elapsed));
    }

    string Progress(int target, int reserved, TimeSpan elapsed) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{Merges.Count:N0} merges, vocabulary {tokens.Count + reserved:N0}/{target + reserved:N0}, {Merges.Count / Math.Max(elapsed.TotalSeconds, 1e-3):N0} merges/s");

    long? NextPair()
    {
        while (queue.TryDequeue(out long pair, out var entry))
            if (entry.Count > 0 && pairCounts.TryGetValue(pair, out long now) && now == entry.Count) return pair;
        return null;
    }

    void Merge(long pair)
    {
        int left = Left(pair), right = Right(pair);
        string spelling = tokens[left] + tokens[right];
        // Two merges can spell the same token ("ab"+"c", "a"+"bc"): it keeps one id, as HF's trainer does. A pair merged
        // before that reappears this way is rewritten again but not listed twice (an encoder applies its first rank).
        if (!idOf.TryGetValue(spelling, out int id)) id = AddToken(spelling);
        if (merged.Add(pair)) Merges.Add((tokens[left], tokens[right]));

        var changed = new HashSet<long>();
        if (pairWords.Remove(pair, out var holders))
            foreach (int w in holders)
                if (Contains(w, left, right))
                {
                    AddPairs(w, -1, changed);
                    Rewrite(w, left, right, id);
                    AddPairs(w, +1, changed);
                }
        foreach (long p in changed)
            if (pairCounts.TryGetValue(p, out long count) && count > 0) queue.Enqueue(p, (count, Left(p), Right(p)));
    }

    bool Contains(int w, int left, int right)
    {
        int[] s = words[w];
        for (int i = 0; i + 1 < lengths[w]; i++)
            if (s[i] == left && s[i + 1] == right) return true;
        return false;
    }

    /// <summary>Replaces each occurrence of (left, right), left to right without overlap ("a a a" → "aa a"), by id.</summary>
    void Rewrite(int w, int left, int right, int id)
    {
        int[] s = words[w];
        int n = lengths[w], j = 0;
        for (int i = 0; i < n; i++)
        {
            if (i + 1 < n && s[i] == left && s[i + 1] == right) { s[j++] = id; i++; }
            else s[j++] = s[i];
        }
        lengths[w] = j;
    }

    /// <summary>Adds (sign +1) or removes (-1) a word's adjacent pairs, weighted by its count, noting each pair touched.</summary>
    void AddPairs(int w, int sign, HashSet<long>? changed = null)
    {
        int[] s = words[w];
        long weight = sign * wordCounts[w];
        for (int i = 0; i + 1 < lengths[w]; i++)
        {
            long pair = Key(s[i], s[i + 1]);
            pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + weight;
            changed?.Add(pair);
            if (sign > 0)
            {
                if (!pairWords.TryGetValue(pair, out var holders)) pairWords[pair] = holders = new HashSet<int>();
                holders.Add(w);
            }
        }
    }

    int AddToken(string spelling)
    {
        idOf[spelling] = tokens.Count;
        tokens.Add(spelling);
        return tokens.Count - 1;
    }

    /// <summary>Negative when a is the better pair: more frequent, then the smaller left and right spellings.</summary>
    int Better((long Count, int Left, int Right) a, (long Count, int Left, int Right) b)
    {
        if (a.Count != b.Count) return b.Count.CompareTo(a.Count);
        int c = string.CompareOrdinal(tokens[a.Left], tokens[b.Left]);
        return c != 0 ? c : string.CompareOrdinal(tokens[a.Right], tokens[b.Right]);
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;
    static int Left(long pair) => (int)(pair >> 32);
    static int Right(long pair) => (int)(pair & 0xFFFFFFFF);
}
