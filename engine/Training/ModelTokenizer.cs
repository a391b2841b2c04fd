using Engine.Models;
using Engine.Tokenizers;

namespace Engine.Training;

/// <summary>The tokenizer a model folder was trained with, as far as the folder tells.</summary>
public static class ModelTokenizer
{
    /// <summary>The run's recorded tokenizer (ours), the folder's own tokenizer.json or vocab.json (an HF folder),
    /// GPT-2's for an HF folder with GPT-2's vocabulary size; null when the folder tells nothing.</summary>
    public static ITokenizer? Find(string folder, TrainerState? state, TransformerConfig config)
    {
        if (state != null) return TokenizerFactory.Resolve(state.Tokenizer, folder);
        foreach (var file in new[] { "tokenizer.json", "vocab.json" })
            if (File.Exists(Path.Combine(folder, file))) return TokenizerFactory.Resolve(folder);
        return config.VocabSize == Gpt2Tokenizer.Gpt2VocabSize ? new Gpt2Tokenizer() : null;
    }

    /// <summary>Whether two tokenizers give the same ids for any text: the same spec, or the same vocabulary size,
    /// end of text, spellings (byte-level ones) and ids for a probe text that exercises words, numbers, punctuation,
    /// whitespace, multi-byte characters and the end-of-text token. Data prepared with one trains a model of the other.</summary>
    public static bool Same(ITokenizer a, ITokenizer b)
    {
        if (a.Name == b.Name && !TokenizerFactory.IsKeptInCheckpoint(a.Name)) return true;
        if (a.VocabSize != b.VocabSize || a.EndOfText != b.EndOfText) return false;
        if (a is IByteLevelVocabulary x && b is IByteLevelVocabulary y && !x.SpellingsById().SequenceEqual(y.SpellingsById())) return false;
        const string Probe = "The patient's sig: 1 tab po qid pc & hs (x10 days) — naïve café 東京 3.14\n\t  end<|endoftext|>";
        return a.Encode(Probe).AsSpan().SequenceEqual(b.Encode(Probe));
    }
}
