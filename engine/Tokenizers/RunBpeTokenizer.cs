namespace Engine.Tokenizers;

/// <summary>
/// A byte-level BPE made for one run, kept in each of its checkpoints as an HF tokenizer.json (which HuggingFace's
/// tokenizers load as it is): a vocabulary grown for continued pre-training (<see cref="TokenizerTraining.VocabularyExtension"/>:
/// the model's old tokens at their old ids, then the domain tokens it lacked, merged as the domain tokenizer merges),
/// or one learnt from the embedded corpus's training text when the run starts (<see cref="TokenizerTraining.BpeTrainer.Learn"/>).
/// </summary>
public class RunBpeTokenizer : IByteLevelVocabulary, ICheckpointTokenizer
{
    public const string SpecName = "run-bpe";
    public const string FileName = "tokenizer.json";

    readonly byte[] tokenizerJson;
    readonly BpeFileTokenizer bpe;

    /// <summary>The definition the tokenizer was built from (its added tokens name the span variant's specials).</summary>
    private protected BpeModelDefinition Definition { get; }

    private protected RunBpeTokenizer(byte[] tokenizerJson, BpeModelDefinition definition)
    {
        this.tokenizerJson = tokenizerJson;
        Definition = definition;
        bpe = BpeFileTokenizer.FromDefinition(SpecName, definition);
    }

    /// <summary>The tokenizer a tokenizer.json describes: one for span corruption (<see cref="RunBpeSpanTokenizer"/>)
    /// when it has T5's &lt;pad&gt; and sentinels, else a plain one.</summary>
    /// <param name="source">Where the file came from, for errors.</param>
    public static RunBpeTokenizer Create(byte[] tokenizerJson, string source)
    {
        var definition = HuggingFaceBpeFiles.ReadTokenizerJson(source, tokenizerJson);
        return RunBpeSpanTokenizer.Describes(definition) ? new RunBpeSpanTokenizer(tokenizerJson, definition) : new RunBpeTokenizer(tokenizerJson, definition);
    }

    /// <summary>Reads the tokenizer a checkpoint of the run keeps.</summary>
    public static RunBpeTokenizer Load(string checkpointFolder)
    {
        string file = Path.Combine(checkpointFolder, FileName);
        if (!File.Exists(file))
            throw new TokenizerException($"{SpecName} tokenizer: {file} not found; the checkpoint of a run with a BPE of its own keeps its tokenizer there");
        return Create(File.ReadAllBytes(file), file);
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
