using System.Text;

namespace Engine.Tokenizers;

/// <summary>
/// The simplest tokenizer that covers every text: one token per UTF-8 byte (ids 0..255) plus end-of-text (256).
/// Useful for tiny models and tests because it needs no vocabulary file and never meets an unknown character.
/// </summary>
public sealed class ByteTokenizer : IByteLevelVocabulary
{
    public const string SpecName = "byte";
    public const int EndOfTextId = 256;

    /// <summary>How end-of-text is shown when decoding, the same text GPT-2 uses for its own.</summary>
    public const string EndOfTextText = "<|endoftext|>";

    public string Name => SpecName;
    public int VocabSize => EndOfTextId + 1;
    public int EndOfText => EndOfTextId;

    public string?[] SpellingsById()
    {
        var spellings = new string?[VocabSize];
        for (int b = 0; b < 256; b++) spellings[b] = ByteLevelSymbols.Of((byte)b).ToString();
        spellings[EndOfTextId] = EndOfTextText;
        return spellings;
    }

    public IReadOnlySet<int> SpecialIds { get; } = new HashSet<int> { EndOfTextId };

    public int[] Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <summary>
    /// Invalid UTF-8 (e.g. a window cut in the middle of a character) decodes to U+FFFD rather than throwing,
    /// so samples printed during training never crash the run.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        var pending = new List<byte>(ids.Length);
        foreach (int id in ids)
        {
            if (id is >= 0 and < EndOfTextId) { pending.Add((byte)id); continue; }
            if (id != EndOfTextId)
                throw new TokenizerException($"byte tokenizer: id {id} is outside its vocabulary 0..{EndOfTextId}");
            FlushBytes(pending, text);
            text.Append(EndOfTextText);
        }
        FlushBytes(pending, text);
        return text.ToString();
    }

    private static void FlushBytes(List<byte> pending, StringBuilder text)
    {
        // Encoding.UTF8 replaces invalid sequences with U+FFFD (it does not throw unless asked to).
        text.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending)));
        pending.Clear();
    }
}
