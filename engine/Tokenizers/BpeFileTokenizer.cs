using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Engine.Tokenizers;

/// <summary>
/// A byte-level BPE tokenizer loaded from HuggingFace files — a domain tokenizer trained with the "tokenizers" library,
/// or a published model's tokenizer.json — run by Microsoft.ML.Tokenizers' BpeTokenizer.
/// </summary>
public sealed class BpeFileTokenizer : IByteLevelVocabulary
{
    /// <summary>Names documents are separated with, in order of preference; the first one the file defines is used.</summary>
    public static readonly IReadOnlyList<string> EndOfTextCandidates =
        ["<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>"];

    private readonly BpeTokenizer _tokenizer;

    /// <summary>What the file says (vocabulary, merges, added tokens, split rule).</summary>
    internal BpeModelDefinition Definition { get; }

    public string Name { get; }
    public int VocabSize { get; }
    public int EndOfText { get; }

    /// <summary>The token text of <see cref="EndOfText"/>, e.g. "&lt;|endoftext|&gt;".</summary>
    public string EndOfTextToken { get; }

    private BpeFileTokenizer(string name, BpeModelDefinition definition)
    {
        Name = name;
        Definition = definition;
        VocabSize = Math.Max(definition.Vocabulary.Values.Max(), definition.AddedTokens.Count == 0 ? 0 : definition.AddedTokens.Values.Max()) + 1;
        (EndOfTextToken, EndOfText) = FindEndOfText(definition);

        var specialTokens = new Dictionary<string, int>(definition.AddedTokens, StringComparer.Ordinal);
        var options = new BpeOptions(definition.Vocabulary)
        {
            Merges = definition.Merges,
            SpecialTokens = specialTokens,
            ByteLevel = true,
            // Special tokens are cut out of the text before the regex split, so "<|endoftext|>" stays one token.
            PreTokenizer = definition.SplitPattern is null
                ? null
                : new RegexPreTokenizer(new Regex(definition.SplitPattern, RegexOptions.Compiled), specialTokens),
            UnknownToken = definition.UnknownToken,
            ContinuingSubwordPrefix = definition.ContinuingSubwordPrefix,
            EndOfWordSuffix = definition.EndOfWordSuffix,
            FuseUnknownTokens = definition.FuseUnknownTokens,
        };
        try { _tokenizer = BpeTokenizer.Create(options); }
        catch (Exception error) when (error is ArgumentException or InvalidOperationException or FormatException)
        { throw new FileFormatException($"tokenizer file {definition.SourcePath}: cannot build a BPE tokenizer from it ({error.Message})", error); }
    }

    /// <summary>
    /// Loads from a tokenizer.json, a vocab.json with merges.txt beside it, or a folder holding either
    /// (tokenizer.json preferred).
    /// </summary>
    public static BpeFileTokenizer Load(string path)
    {
        string fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            string tokenizerJson = Path.Combine(fullPath, "tokenizer.json");
            string vocabJson = Path.Combine(fullPath, "vocab.json");
            if (File.Exists(tokenizerJson)) return new BpeFileTokenizer(fullPath, HuggingFaceBpeFiles.ReadTokenizerJson(tokenizerJson));
            if (File.Exists(vocabJson)) return FromVocabJson(fullPath, vocabJson);
            throw new TokenizerException($"tokenizer folder {path}: holds neither tokenizer.json nor vocab.json + merges.txt");
        }
        if (!File.Exists(fullPath))
            throw new TokenizerException($"tokenizer file {path}: not found");

        // tokenizer.json has a "model" section; a vocab.json is a flat token → id map. Peek rather than trust the name.
        return LooksLikeTokenizerJson(fullPath)
            ? new BpeFileTokenizer(fullPath, HuggingFaceBpeFiles.ReadTokenizerJson(fullPath))
            : FromVocabJson(fullPath, fullPath);
    }

    public string?[] SpellingsById()
    {
        var spellings = new string?[VocabSize];
        foreach (var (spelling, id) in Definition.Vocabulary) spellings[id] = spelling;
        foreach (var (text, id) in Definition.AddedTokens) spellings[id] = text;
        return spellings;
    }

    public IReadOnlySet<int> SpecialIds => Definition.AddedTokens.Values.ToHashSet();

    /// <summary>A tokenizer from a definition already read (a grown vocabulary, <see cref="RunBpeTokenizer"/>).</summary>
    internal static BpeFileTokenizer FromDefinition(string name, BpeModelDefinition definition) => new(name, definition);

    public int[] Encode(string text) => _tokenizer.EncodeToIds(text).ToArray();

    public string Decode(ReadOnlySpan<int> ids) => _tokenizer.Decode(ids.ToArray()) ?? "";

    private static BpeFileTokenizer FromVocabJson(string name, string vocabJson)
    {
        string merges = Path.Combine(Path.GetDirectoryName(vocabJson)!, "merges.txt");
        if (!File.Exists(merges))
            throw new TokenizerException($"tokenizer file {vocabJson}: merges.txt not found beside it (a vocab.json needs its merges.txt)");
        return new BpeFileTokenizer(name, HuggingFaceBpeFiles.ReadVocabAndMerges(vocabJson, merges));
    }

    private static bool LooksLikeTokenizerJson(string path)
    {
        using var reader = new StreamReader(path);
        var head = new char[4096];
        int read = reader.ReadBlock(head, 0, head.Length);
        return new string(head, 0, read).Contains("\"model\"", StringComparison.Ordinal);
    }

    private static (string Token, int Id) FindEndOfText(BpeModelDefinition definition)
    {
        foreach (string candidate in EndOfTextCandidates)
        {
            if (definition.AddedTokens.TryGetValue(candidate, out int id)) return (candidate, id);
            if (definition.Vocabulary.TryGetValue(candidate, out id)) return (candidate, id);
        }
        throw new FileFormatException(
            $"tokenizer file {definition.SourcePath}: defines no end-of-text token (looked for {string.Join(", ", EndOfTextCandidates)}); " +
            "add one as an added token when training the tokenizer");
    }
}
