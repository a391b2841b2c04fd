namespace Engine.TokenizerTraining;

/// <summary>
/// A byte-level BPE: tokens by id in the byte-level alphabet and the merges in the order an encoder applies them.
/// A learnt one (<see cref="BpeTrainer"/>) has the bytes at ids 0–255, then one token per merge that made a new
/// token, then the special tokens; a grown one (<see cref="VocabularyExtension"/>) has a model's old tokens, specials
/// among them, then the new ones.
/// </summary>
public sealed record BpeVocabulary(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges, IReadOnlyList<string> SpecialTokens)
{
    /// <summary>The id of the first special token of a learnt vocabulary: they follow the bytes and the merged tokens.</summary>
    public int FirstSpecialId => Tokens.Count - SpecialTokens.Count;

    /// <summary>The id of a token (the last, should a spelling repeat).</summary>
    public int IdOf(string token)
    {
        for (int id = Tokens.Count - 1; id >= 0; id--)
            if (Tokens[id] == token) return id;
        throw new ArgumentException($"'{token}' is not a token of the vocabulary", nameof(token));
    }
}
