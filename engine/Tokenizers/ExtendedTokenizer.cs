namespace Engine.Tokenizers;

/// <summary>
/// A run's grown vocabulary (continued pre-training with a domain tokenizer's tokens appended,
/// <see cref="TokenizerTraining.VocabularyExtension"/>): a byte-level BPE whose vocabulary is the model's old tokens at
/// their old ids followed by the domain tokens the model lacked, and whose merges are the domain tokenizer's, so it
/// encodes text exactly as the domain tokenizer does, in the grown ids. Kept in each checkpoint as tokenizer.json,
/// which HuggingFace's tokenizers load as they are.
/// </summary>
public sealed class ExtendedTokenizer : IByteLevelVocabulary, ICheckpointTokenizer
{
    public const string SpecName = "extended-bpe";
    public const string FileName = "tokenizer.json";

    readonly byte[] tokenizerJson;
    readonly BpeFileTokenizer bpe;

    /// <param name="source">Where the file came from, for errors.</param>
    public ExtendedTokenizer(byte[] tokenizerJson, string source)
    {
        this.tokenizerJson = tokenizerJson;
        bpe = BpeFileTokenizer.FromDefinition(SpecName, HuggingFaceBpeFiles.ReadTokenizerJson(source, tokenizerJson));
    }

    /// <summary>Reads the tokenizer a checkpoint of an extended run keeps.</summary>
    public static ExtendedTokenizer Load(string checkpointFolder)
    {
        string file = Path.Combine(checkpointFolder, FileName);
        if (!File.Exists(file))
            throw new TokenizerException($"{SpecName} tokenizer: {file} not found; the checkpoint of a run with a grown vocabulary keeps its tokenizer there");
        return new ExtendedTokenizer(File.ReadAllBytes(file), file);
    }

    public void Save(string folder) => File.WriteAllBytes(Path.Combine(folder, FileName), tokenizerJson);

    public string Name => SpecName;
    public int VocabSize => bpe.VocabSize;
    public int EndOfText => bpe.EndOfText;
    public int[] Encode(string text) => bpe.Encode(text);
    public string Decode(ReadOnlySpan<int> ids) => bpe.Decode(ids);
    public string?[] SpellingsById() => bpe.SpellingsById();
    public IReadOnlySet<int> SpecialIds => bpe.SpecialIds;
}
