namespace Engine.Tokenizers;

/// <summary>Turns the user's tokenizer spec into a tokenizer: a built-in name or a path to tokenizer files.</summary>
public static class TokenizerFactory
{
    public const string Choices =
        "'gpt2' (GPT-2's BPE), 'byte' (UTF-8 bytes), 'byte-mlm' (bytes + [PAD] [CLS] [SEP] [MASK]), 'byte-span' (bytes + <pad> </s> <unk> and 100 sentinels <extra_id_N>), 'word-mlm' (a word vocabulary kept as vocab.txt in a checkpoint folder), or a path to a HuggingFace tokenizer.json, a vocab.json with merges.txt beside it, or a folder holding them";

    /// <summary>The tokenizer a checkpoint records, reading files the checkpoint keeps (a word vocabulary) from its folder.</summary>
    public static ITokenizer Resolve(string spec, string checkpointFolder) =>
        IsKeptInCheckpoint(spec) ? LoadFromCheckpoint(spec, checkpointFolder) : Resolve(spec);

    /// <summary>Whether <paramref name="spec"/> names a tokenizer made for one run (<see cref="ICheckpointTokenizer"/>),
    /// whose files are in the run's checkpoints.</summary>
    public static bool IsKeptInCheckpoint(string spec) => KeptInCheckpoint.ContainsKey(spec);

    /// <summary>The tokenizers made for one run: the file each keeps in a checkpoint and how it is read back.</summary>
    static readonly Dictionary<string, (string File, Func<string, ICheckpointTokenizer> Load)> KeptInCheckpoint = new(StringComparer.OrdinalIgnoreCase)
    {
        [WordMlmTokenizer.SpecName] = (WordMlmTokenizer.VocabularyFile, WordMlmTokenizer.Load),
        [RunBpeTokenizer.SpecName] = (RunBpeTokenizer.FileName, RunBpeTokenizer.Load),
    };

    /// <summary>A run's own tokenizer from a checkpoint folder.</summary>
    public static ICheckpointTokenizer LoadFromCheckpoint(string spec, string checkpointFolder) =>
        KeptInCheckpoint.TryGetValue(spec, out var kept) ? kept.Load(checkpointFolder)
        : throw new TokenizerException($"tokenizer '{spec}' is not one a checkpoint keeps ({string.Join(", ", KeptInCheckpoint.Keys)})");

    public static ITokenizer Resolve(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
            throw new TokenizerException($"tokenizer spec is empty; choose {Choices}");
        if (spec.Equals(Gpt2Tokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new Gpt2Tokenizer();
        if (spec.Equals(ByteTokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new ByteTokenizer();
        if (spec.Equals(ByteMlmTokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new ByteMlmTokenizer();
        if (spec.Equals(ByteSpanTokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new ByteSpanTokenizer();
        if (KeptInCheckpoint.TryGetValue(spec, out var kept))
            throw new TokenizerException($"tokenizer '{spec}' is a vocabulary made for one run: it is read from the {kept.File} of that run's checkpoint folder, so pass the folder");
        if (File.Exists(spec) || Directory.Exists(spec)) return BpeFileTokenizer.Load(spec);
        throw new TokenizerException($"tokenizer '{spec}': not a known name nor an existing file or folder; choose {Choices}");
    }
}
