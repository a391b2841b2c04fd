using System.Diagnostics;
using System.Globalization;
using Engine.Data;
using Engine.Tokenizers;

namespace Engine.TokenizerTraining;

/// <summary>What a training run learnt and wrote.</summary>
public sealed record BpeTrainingSummary(BpeVocabulary Vocabulary, long Characters, long Words, int DistinctWords, IReadOnlyList<string> Files, TimeSpan Elapsed);

/// <summary>
/// Trains a GPT-2-style byte-level BPE tokenizer: text split into words by GPT-2's regex, the 256 bytes as the base
/// vocabulary (so every byte sequence has an encoding), merges of the most frequent adjacent pair learnt over word
/// counts until the vocabulary is full, the special tokens appended; then tokenizer.json, vocab.json and merges.txt,
/// which <see cref="BpeFileTokenizer"/> (and HuggingFace's tokenizers) load. Everything is checked before anything is
/// written, so a refused run leaves the output folder as it was.
/// </summary>
public static class BpeTrainer
{
    public const int ByteTokens = 256;

    public static BpeTrainingSummary Train(BpeTrainingOptions options, Action<string>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var specials = CheckSpecials(options.SpecialTokens);
        if (options.VocabSize < ByteTokens + specials.Count)
            throw new EngineException(EngineOption.TokenizerVocabSize,
                $"{EngineOption.TokenizerVocabSize} {options.VocabSize} is too small: the vocabulary starts with the {ByteTokens} bytes and holds {specials.Count} special token(s), so it needs at least {ByteTokens + specials.Count}");
        if (string.IsNullOrWhiteSpace(options.Out))
            throw new EngineException(EngineOption.Out, $"no {EngineOption.Out} folder to write tokenizer.json, vocab.json and merges.txt into");
        IReadOnlyList<string> files = ResolveInputs(options.Inputs);

        var words = new PreTokenizedWords(specials);
        foreach (SourceDocument document in CorpusFiles.ReadDocuments(files)) words.Add(document.Text);
        if (words.Counts.Count == 0)
            throw new EngineException(EngineOption.Input,
                $"{EngineOption.Input} {string.Join(" ", options.Inputs)}: no text to learn from (the files are empty or hold only special tokens)");
        long total = words.Counts.Values.Sum();
        progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"{files.Count} file(s), {words.Characters:N0} characters: {total:N0} words, {words.Counts.Count:N0} distinct ({clock.Elapsed.TotalSeconds:F1} s)"));

        var learner = new BpeMergeLearner(words.Counts);
        learner.Learn(options.VocabSize - specials.Count, specials.Count, progress);
        var tokens = learner.Tokens.Concat(specials).ToList();
        var vocabulary = new BpeVocabulary(tokens, learner.Merges, specials);
        if (tokens.Count < options.VocabSize)
            progress?.Invoke($"every word is one token after {learner.Merges.Count:N0} merges: the vocabulary has {tokens.Count:N0} tokens, fewer than the {options.VocabSize:N0} asked for");

        var written = BpeFilesWriter.Write(vocabulary, options.Out);
        return new BpeTrainingSummary(vocabulary, words.Characters, total, words.Counts.Count, written, clock.Elapsed);
    }

    /// <summary>
    /// Learns a BPE of up to <paramref name="vocabSize"/> tokens (bytes, merges, then &lt;|endoftext|&gt;) from a text
    /// in memory, as <see cref="Train"/> learns from files, and returns it as a tokenizer a run keeps in its
    /// checkpoints: the embedded corpus's own tokenizer, learnt when a run on it starts (well under a second for its
    /// 1.76 MB, and the same text always gives the same tokenizer).
    /// </summary>
    /// <param name="specials">The special tokens after the learnt ones (default &lt;|endoftext|&gt;; for span
    /// corruption <see cref="RunBpeSpanTokenizer.Specials"/>, which makes the result a <see cref="RunBpeSpanTokenizer"/>).</param>
    public static RunBpeTokenizer Learn(string text, int vocabSize, IReadOnlyList<string>? specials = null)
    {
        var names = CheckSpecials(specials ?? [BpeTrainingOptions.DefaultEndOfText]);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, ByteTokens + names.Count);
        var words = new PreTokenizedWords(names);
        words.Add(text);
        var learner = new BpeMergeLearner(words.Counts);
        learner.Learn(vocabSize - names.Count, names.Count, null);
        var vocabulary = new BpeVocabulary(learner.Tokens.Concat(names).ToList(), learner.Merges, names);
        return RunBpeTokenizer.Create(BpeFilesWriter.TokenizerJsonBytes(vocabulary), "a BPE learnt from the embedded text");
    }

    static List<string> CheckSpecials(IReadOnlyList<string> specials)
    {
        var distinct = new List<string>();
        foreach (string special in specials)
        {
            if (string.IsNullOrEmpty(special))
                throw new EngineException(EngineOption.SpecialTokens, $"{EngineOption.SpecialTokens}: a special token cannot be empty");
            if (!distinct.Contains(special)) distinct.Add(special);
        }
        // Prepared data separates documents with an end-of-text token, so a tokenizer without one could not be used.
        if (!distinct.Any(BpeFileTokenizer.EndOfTextCandidates.Contains)) distinct.Insert(0, BpeTrainingOptions.DefaultEndOfText);
        return distinct;
    }

    /// <summary>The files to read, each input checked to exist (the error names the option that gave it).</summary>
    static IReadOnlyList<string> ResolveInputs(IReadOnlyList<string> inputs)
    {
        if (inputs.Count == 0)
            throw new EngineException(EngineOption.Input, $"no {EngineOption.Input}: give the text files (.txt, .jsonl) or folders to learn from");
        foreach (string input in inputs)
            if (!File.Exists(input) && !Directory.Exists(input))
                throw new EngineException(EngineOption.Input, $"{EngineOption.Input} {input}: no such file or folder");
        try { return CorpusFiles.ResolveInputs(inputs); }
        catch (EngineException error) when (error is DataException or DataFormatException) { throw new EngineException(EngineOption.Input, $"{EngineOption.Input}: {error.Message}", error); }
    }
}
