namespace Engine.Tokenizers;

/// <summary>
/// What a byte-level BPE tokenizer file says, independent of the file's layout (tokenizer.json or vocab.json +
/// merges.txt): the vocabulary, the merges in priority order, the added (special) tokens matched before BPE,
/// and the regex that splits text into words before merging.
/// </summary>
internal sealed record BpeModelDefinition(
    string SourcePath,
    Dictionary<string, int> Vocabulary,
    List<string> Merges,
    Dictionary<string, int> AddedTokens,
    string? SplitPattern,
    string? UnknownToken,
    string? ContinuingSubwordPrefix,
    string? EndOfWordSuffix,
    bool FuseUnknownTokens)
{
    /// <summary>GPT-2's pre-tokenization regex, used by byte-level BPE files that do not state their own.</summary>
    public const string Gpt2SplitPattern =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
}
