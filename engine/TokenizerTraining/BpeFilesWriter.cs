using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Engine.Tokenizers;

namespace Engine.TokenizerTraining;

/// <summary>
/// Writes a learnt vocabulary in HuggingFace's two layouts: tokenizer.json (model BPE, pre-tokenizer and decoder
/// ByteLevel as in GPT-2's file, special tokens as added tokens) and GPT-2's vocab.json + merges.txt. Tokens are
/// written in id order and merges in rank order, so the same vocabulary always gives the same bytes.
/// </summary>
public static class BpeFilesWriter
{
    public const string TokenizerJson = "tokenizer.json", VocabJson = "vocab.json", MergesTxt = "merges.txt";

    static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonWriterOptions Compact = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Writes the three files into <paramref name="folder"/> (created if missing); returns their paths.</summary>
    public static IReadOnlyList<string> Write(BpeVocabulary vocabulary, string folder)
    {
        Directory.CreateDirectory(folder);
        string tokenizer = Path.Combine(folder, TokenizerJson), vocab = Path.Combine(folder, VocabJson), merges = Path.Combine(folder, MergesTxt);
        File.WriteAllBytes(tokenizer, TokenizerJsonBytes(vocabulary));
        File.WriteAllBytes(vocab, Json(Compact, w => WriteVocab(w, vocabulary)));
        var lines = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in vocabulary.Merges) lines.Append(left).Append(' ').Append(right).Append('\n');
        File.WriteAllText(merges, lines.ToString(), Utf8);
        return [tokenizer, vocab, merges];
    }

    /// <summary>The tokenizer.json <see cref="Write"/> writes, as bytes.</summary>
    public static byte[] TokenizerJsonBytes(BpeVocabulary vocabulary) => Json(Indented, w =>
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (string special in vocabulary.SpecialTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", vocabulary.IdOf(special));
            w.WriteString("content", special);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");
        // GPT-2's tokenizer.json: ByteLevel without a prefix space, splitting with GPT-2's regex (use_regex).
        ByteLevel(w, "pre_tokenizer", addPrefixSpace: false, trimOffsets: true);
        ByteLevel(w, "post_processor", addPrefixSpace: true, trimOffsets: false);
        ByteLevel(w, "decoder", addPrefixSpace: true, trimOffsets: true);
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WritePropertyName("vocab");
        WriteVocab(w, vocabulary);
        w.WriteStartArray("merges");
        foreach (var (left, right) in vocabulary.Merges) w.WriteStringValue(left + " " + right);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    });

    static void ByteLevel(Utf8JsonWriter w, string name, bool addPrefixSpace, bool trimOffsets)
    {
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
    }

    static void WriteVocab(Utf8JsonWriter w, BpeVocabulary vocabulary)
    {
        w.WriteStartObject();
        for (int id = 0; id < vocabulary.Tokens.Count; id++) w.WriteNumber(vocabulary.Tokens[id], id);
        w.WriteEndObject();
    }

    static byte[] Json(JsonWriterOptions options, Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, options)) write(writer);
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }
}
