using System.Text;
using Engine.Tokenizers;

namespace Engine.TokenizerTraining;

/// <summary>
/// Grows a model's vocabulary with a domain tokenizer's tokens, for continued pre-training: the model's tokens keep
/// their ids; the domain tokens it lacks (compared by byte-level spelling) follow them in the domain tokenizer's id
/// order; the grown tokenizer merges as the domain tokenizer does, so it splits text exactly as the domain tokenizer
/// does, in the grown ids. Each new token also records the old tokenizer's pieces of its text: the mean of their
/// embedding rows starts the new row (so a new token begins near what the model read in its place).
/// </summary>
public sealed class VocabularyExtension
{
    /// <summary>A token the model lacked: its grown id, its spelling and the old tokenizer's ids for its text.</summary>
    public sealed record NewToken(int Id, string Spelling, int[] Pieces);

    /// <summary>The run's tokenizer: the old ids, then the new ones.</summary>
    public required RunBpeTokenizer Tokenizer { get; init; }
    /// <summary>The old vocabulary's size: new tokens take ids from here on.</summary>
    public required int OldVocabSize { get; init; }
    public required IReadOnlyList<NewToken> NewTokens { get; init; }

    /// <param name="model">The tokenizer the model was trained with.</param>
    /// <param name="domain">The tokenizer whose tokens are added (<see cref="EngineOption.ExtendVocab"/>).</param>
    public static VocabularyExtension Build(ITokenizer model, ITokenizer domain)
    {
        if (model is not IByteLevelVocabulary old)
            throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab}: the model's tokenizer '{model.Name}' has no byte-level vocabulary to grow (gpt2, byte and byte-level BPE files have one); continue without {EngineOption.ExtendVocab}");
        if (domain is not BpeFileTokenizer added)
            throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} {domain.Name}: not a byte-level BPE tokenizer file; train one with `trainer tokenizer train {EngineOption.Input} … {EngineOption.Out} DIR` and pass DIR");
        if (added.Definition.SplitPattern != BpeModelDefinition.Gpt2SplitPattern || added.Definition.ContinuingSubwordPrefix != null || added.Definition.EndOfWordSuffix != null)
            throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} {domain.Name}: splits words otherwise than GPT-2's byte-level rule, which a grown vocabulary keeps; use a tokenizer trained by `trainer tokenizer train`");
        var spellings = old.SpellingsById();
        int hole = Array.IndexOf(spellings, null);
        if (hole >= 0)
            throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab}: the model's tokenizer '{model.Name}' has no token for id {hole}, so its vocabulary cannot be written out grown");

        var ids = IByteLevelVocabulary.IdsBySpelling(spellings);
        var tokens = new List<string>(spellings!);
        var specials = old.SpecialIds.Order().Select(id => spellings[id]!).ToList();
        var domainSpellings = added.SpellingsById();
        var domainSpecials = added.SpecialIds;
        var newTokens = new List<NewToken>();
        for (int id = 0; id < domainSpellings.Length; id++)
        {
            // The domain's end of text is the model's, whatever each calls it (<|endoftext|>, </s>): not a new token.
            if (id == domain.EndOfText || domainSpellings[id] is not { } spelling || ids.ContainsKey(spelling)) continue;
            int grown = tokens.Count;
            tokens.Add(spelling);
            ids[spelling] = grown;
            bool special = domainSpecials.Contains(id);
            if (special) specials.Add(spelling);
            newTokens.Add(new NewToken(grown, spelling, PiecesOf(spelling, special, old, ids)));
        }
        var merges = added.Definition.Merges.Select(m => m.Split(' ', 2) is [var left, var right] ? (left, right)
            : throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} {domain.Name}: merge '{m}' is not two tokens")).ToList();
        var vocabulary = new BpeVocabulary(tokens, merges, specials);
        return new VocabularyExtension
        {
            Tokenizer = RunBpeTokenizer.Create(BpeFilesWriter.TokenizerJsonBytes(vocabulary), $"{domain.Name} grown onto {model.Name}"),
            OldVocabSize = spellings.Length, NewTokens = newTokens,
        };
    }

    /// <summary>The old tokenizer's ids for a new token's text: its encoding of the text when the bytes are whole
    /// UTF-8 (or the token is special), else one byte token per byte (a token may hold part of a character).</summary>
    static int[] PiecesOf(string spelling, bool special, IByteLevelVocabulary old, Dictionary<string, int> ids)
    {
        if (special) return old.Encode(spelling);
        var bytes = ByteLevelSymbols.TryUnspell(spelling)
            ?? throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab}: token '{spelling}' is not spelt in byte-level symbols");
        try { return old.Encode(new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes)); }
        catch (DecoderFallbackException) { }
        return bytes.Select(b => ids.TryGetValue(ByteLevelSymbols.Of(b).ToString(), out int id) ? id
            : throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab}: the model's tokenizer '{old.Name}' has no token for byte 0x{b:X2}")).ToArray();
    }
}
