namespace Engine.Tokenizers;

/// <summary>
/// What T5's span corruption needs from a tokenizer beyond text ↔ ids: a padding id (also the decoder's start id) and
/// the sentinels that stand for the dropped spans, numbered from the top of the vocabulary down (T5's &lt;extra_id_0&gt;
/// is the last id, &lt;extra_id_1&gt; the one before, …).
/// </summary>
public interface ISpanTokenizer : ITokenizer
{
    int PadToken { get; }
    int SentinelCount { get; }
    /// <summary>The id of &lt;extra_id_<paramref name="index"/>&gt;: VocabSize − 1 − index.</summary>
    int Sentinel(int index);
    /// <summary>The sentinel's index, or −1 when the id is not a sentinel.</summary>
    int SentinelIndex(int id);
}
