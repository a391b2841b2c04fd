using System.Text;

namespace Engine.Tokenizers;

/// <summary>
/// The byte tokenizer (ids 0..255 are UTF-8 bytes) plus BERT's special tokens: [PAD] 256, [CLS] 257, [SEP] 258 (the
/// end of a document) and [MASK] 259. Special tokens written literally in the text ("take one [MASK] by mouth")
/// encode to their ids, so fill-mask prompts need no extra syntax. Needs no vocabulary file, like the byte tokenizer.
/// </summary>
public sealed class ByteMlmTokenizer : IMaskingTokenizer
{
    public const string SpecName = "byte-mlm";
    public const int Pad = 256, Cls = 257, Sep = 258, Mask = 259;
    static readonly string[] Names = { "[PAD]", "[CLS]", "[SEP]", "[MASK]" };

    public string Name => SpecName;
    public int VocabSize => 260;
    public int EndOfText => Sep;
    public int MaskToken => Mask;
    public int PadToken => Pad;
    public int ClsToken => Cls;
    public bool IsSpecial(int id) => id >= Pad;
    public bool IsWordSeparator(int id) => id < 128 && !char.IsLetterOrDigit((char)id) || IsSpecial(id);
    public string SpecialText(int id) => IsSpecial(id) ? Names[id - Pad] : throw new ArgumentOutOfRangeException(nameof(id), $"{id} is not a special token");

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        int at = 0;
        while (at < text.Length)
        {
            int next = text.IndexOf('[', at);
            int special = -1;
            if (next >= 0)
                for (int i = 0; i < Names.Length; i++)
                    if (string.CompareOrdinal(text, next, Names[i], 0, Names[i].Length) == 0) { special = i; break; }
            int end = next < 0 ? text.Length : special >= 0 ? next : next + 1;
            foreach (byte b in Encoding.UTF8.GetBytes(text[at..end])) ids.Add(b);
            if (special >= 0) { ids.Add(Pad + special); end += Names[special].Length; }
            at = end;
        }
        return ids.ToArray();
    }

    /// <summary>Bytes decode as UTF-8 (invalid sequences as U+FFFD), special ids as their names.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        var pending = new List<byte>();
        foreach (int id in ids)
        {
            if (id is >= 0 and < 256) { pending.Add((byte)id); continue; }
            if (id < Pad || id >= VocabSize) throw new TokenizerException($"{SpecName} tokenizer: id {id} is outside its vocabulary 0..{VocabSize - 1}");
            text.Append(Encoding.UTF8.GetString(pending.ToArray())); pending.Clear();
            text.Append(Names[id - Pad]);
        }
        text.Append(Encoding.UTF8.GetString(pending.ToArray()));
        return text.ToString();
    }
}
