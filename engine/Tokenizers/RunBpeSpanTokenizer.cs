namespace Engine.Tokenizers;

/// <summary>
/// A run's own BPE with T5's special tokens after the learnt ones, laid out as T5 lays them: &lt;/s&gt; (the end of a
/// document), &lt;pad&gt; (also the decoder's start), then the sentinels counting down, so &lt;extra_id_0&gt; is the last
/// id. Span corruption on it drops whole words and word pieces, where the byte tokenizer's spans were a few letters.
/// </summary>
public sealed class RunBpeSpanTokenizer : RunBpeTokenizer, ISpanTokenizer
{
    public const string EndOfDocument = "</s>", Padding = "<pad>";
    public const int DefaultSentinels = 100;

    readonly Dictionary<int, int> sentinelIndex = new();
    readonly int[] sentinels;

    /// <summary>The special tokens to learn a span BPE with, in id order: &lt;/s&gt;, &lt;pad&gt;, &lt;extra_id_{n−1}&gt; … &lt;extra_id_0&gt;.</summary>
    public static IReadOnlyList<string> Specials(int sentinels = DefaultSentinels) =>
        [EndOfDocument, Padding, .. Enumerable.Range(0, sentinels).Reverse().Select(SentinelText)];

    static string SentinelText(int index) => $"<extra_id_{index}>";

    internal static bool Describes(BpeModelDefinition definition) =>
        definition.AddedTokens.ContainsKey(Padding) && definition.AddedTokens.ContainsKey(SentinelText(0));

    internal RunBpeSpanTokenizer(byte[] tokenizerJson, BpeModelDefinition definition) : base(tokenizerJson, definition)
    {
        PadToken = definition.AddedTokens[Padding];
        var ids = new List<int>();
        while (definition.AddedTokens.TryGetValue(SentinelText(ids.Count), out int id)) ids.Add(id);
        sentinels = ids.ToArray();
        for (int i = 0; i < sentinels.Length; i++) sentinelIndex[sentinels[i]] = i;
    }

    public int PadToken { get; }
    public int SentinelCount => sentinels.Length;

    public int Sentinel(int index) => index >= 0 && index < sentinels.Length ? sentinels[index]
        : throw new TokenizerException($"{SpecName} tokenizer: sentinel {SentinelText(index)} does not exist (it has {sentinels.Length}, {SentinelText(0)} to {SentinelText(sentinels.Length - 1)})");

    public int SentinelIndex(int id) => sentinelIndex.TryGetValue(id, out int index) ? index : -1;
}
