namespace Engine.TokenizerTraining;

/// <summary>
/// A learnt byte-level BPE: tokens by id in the byte-level alphabet (ids 0–255 are the bytes themselves, then one per
/// merge that made a new token, then the special tokens) and the merges in the order they were learnt, which is the
/// order an encoder applies them.
/// </summary>
public sealed record BpeVocabulary(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges, IReadOnlyList<string> SpecialTokens)
{
    /// <summary>The id of the first special token: they follow the bytes and the merged tokens.</summary>
    public int FirstSpecialId => Tokens.Count - SpecialTokens.Count;
}
