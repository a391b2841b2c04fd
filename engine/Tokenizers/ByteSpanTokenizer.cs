using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Tokenizers;

/// <summary>
/// Bytes with T5's special ids, laid out as ByT5 does: &lt;pad&gt; 0 (also the decoder start), &lt;/s&gt; 1 (EOS),
/// &lt;unk&gt; 2, UTF-8 bytes 3..258, then <see cref="Sentinels"/> sentinels at the top with &lt;extra_id_0&gt; the last
/// id (358). Sentinels written literally in the text ("take one &lt;extra_id_0&gt; by mouth") encode to their ids, so
/// infill prompts need no extra syntax. Needs no vocabulary file.
/// </summary>
public sealed partial class ByteSpanTokenizer : ISpanTokenizer, IByteLevelVocabulary
{
    public const string SpecName = "byte-span";
    public const int Pad = 0, Eos = 1, Unknown = 2, ByteOffset = 3, Sentinels = 100;

    public string Name => SpecName;
    public int VocabSize => ByteOffset + 256 + Sentinels;
    public int EndOfText => Eos;
    public int PadToken => Pad;
    public int SentinelCount => Sentinels;
    public int Sentinel(int index) => index is >= 0 and < Sentinels ? VocabSize - 1 - index
        : throw new TokenizerException($"{SpecName} tokenizer: sentinel <extra_id_{index}> does not exist (it has {Sentinels}, <extra_id_0> to <extra_id_{Sentinels - 1}>)");
    public int SentinelIndex(int id) => id >= ByteOffset + 256 && id < VocabSize ? VocabSize - 1 - id : -1;

    /// <summary>The specials by name, the bytes in byte-level symbols, the sentinels as &lt;extra_id_N&gt;.</summary>
    public string?[] SpellingsById()
    {
        var spellings = new string?[VocabSize];
        spellings[Pad] = "<pad>"; spellings[Eos] = "</s>"; spellings[Unknown] = "<unk>";
        for (int b = 0; b < 256; b++) spellings[ByteOffset + b] = ByteLevelSymbols.Of((byte)b).ToString();
        for (int i = 0; i < Sentinels; i++) spellings[Sentinel(i)] = $"<extra_id_{i}>";
        return spellings;
    }

    public IReadOnlySet<int> SpecialIds { get; } = new HashSet<int>(new[] { Pad, Eos, Unknown }.Concat(Enumerable.Range(ByteOffset + 256, Sentinels)));

    [GeneratedRegex(@"<extra_id_(\d+)>")]
    private static partial Regex SentinelPattern();

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length + 4);
        int at = 0;
        foreach (Match m in SentinelPattern().Matches(text))
        {
            AddBytes(ids, text[at..m.Index]);
            ids.Add(Sentinel(int.Parse(m.Groups[1].Value)));
            at = m.Index + m.Length;
        }
        AddBytes(ids, text[at..]);
        return ids.ToArray();
    }

    static void AddBytes(List<int> ids, string text)
    {
        foreach (byte b in Encoding.UTF8.GetBytes(text)) ids.Add(b + ByteOffset);
    }

    /// <summary>Bytes decode as UTF-8 (invalid sequences as U+FFFD); specials as &lt;pad&gt;, &lt;/s&gt;, &lt;unk&gt;, &lt;extra_id_N&gt;.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        var pending = new List<byte>();
        foreach (int id in ids)
        {
            if (id is >= ByteOffset and < ByteOffset + 256) { pending.Add((byte)(id - ByteOffset)); continue; }
            if (id < 0 || id >= VocabSize) throw new TokenizerException($"{SpecName} tokenizer: id {id} is outside its vocabulary 0..{VocabSize - 1}");
            text.Append(Encoding.UTF8.GetString(pending.ToArray())); pending.Clear();
            text.Append(id switch { Pad => "<pad>", Eos => "</s>", Unknown => "<unk>", _ => $"<extra_id_{SentinelIndex(id)}>" });
        }
        text.Append(Encoding.UTF8.GetString(pending.ToArray()));
        return text.ToString();
    }
}
