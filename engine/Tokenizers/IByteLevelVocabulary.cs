namespace Engine.Tokenizers;

/// <summary>
/// A tokenizer whose every id has a spelling in HuggingFace's byte-level files: the token's bytes in
/// <see cref="ByteLevelSymbols"/> for ordinary tokens, the literal text for special tokens ("&lt;|endoftext|&gt;").
/// Spellings are what two such tokenizers share or not, whatever their ids: the ground for growing one vocabulary
/// with another's tokens (<see cref="TokenizerTraining.VocabularyExtension"/>).
/// </summary>
public interface IByteLevelVocabulary : ITokenizer
{
    /// <summary>The spelling of every id below <see cref="ITokenizer.VocabSize"/>, in id order (null where an id has no token).</summary>
    string?[] SpellingsById();

    /// <summary>The ids of the special tokens (matched as whole strings before byte-level BPE).</summary>
    IReadOnlySet<int> SpecialIds { get; }

    /// <summary>Each spelling's id (the first, should a spelling repeat).</summary>
    static Dictionary<string, int> IdsBySpelling(string?[] spellings)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < spellings.Length; id++)
            if (spellings[id] is { } spelling) ids.TryAdd(spelling, id);
        return ids;
    }
}
