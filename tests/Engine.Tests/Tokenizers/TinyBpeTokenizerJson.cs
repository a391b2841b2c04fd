using System.Text.Json;

namespace Engine.Tests.Tokenizers;

/// <summary>
/// A hand-made byte-level BPE tokenizer.json: the 256 byte characters (id = byte value), three merges
/// ("h e" → "he" 256, "Ġ t" → "Ġt" 257, "Ġt he" → "Ġthe" 258) and &lt;|endoftext|&gt; as added token 259.
/// Small enough to predict its output by hand.
/// </summary>
internal static class TinyBpeTokenizerJson
{
    public static readonly string Text = Build(modelType: "BPE", withEndOfText: true);

    public static string Build(string modelType, bool withEndOfText)
    {
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocab[Engine.Tokenizers.ByteLevelSymbols.Of((byte)b).ToString()] = b;
        vocab["he"] = 256;
        vocab["Ġt"] = 257;
        vocab["Ġthe"] = 258;
        object[] added = withEndOfText ? [new { id = 259, content = "<|endoftext|>", special = true }] : [];
        var document = new
        {
            version = "1.0",
            added_tokens = added,
            normalizer = (object?)null,
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
            decoder = new { type = "ByteLevel" },
            model = new { type = modelType, vocab, merges = new[] { "h e", "Ġ t", "Ġt he" } },
        };
        return JsonSerializer.Serialize(document);
    }
}
