namespace Engine.Tokenizers;

/// <summary>Turns the user's --tokenizer spec into a tokenizer: a built-in name or a path to tokenizer files.</summary>
public static class TokenizerFactory
{
    public const string Choices =
        "'gpt2' (GPT-2's BPE), 'byte' (UTF-8 bytes), 'byte-mlm' (bytes + [PAD] [CLS] [SEP] [MASK]), 'byte-span' (bytes + <pad> </s> <unk> and 100 sentinels <extra_id_N>), or a path to a HuggingFace tokenizer.json, a vocab.json with merges.txt beside it, or a folder holding them";

    public static ITokenizer Resolve(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
            throw new TokenizerException($"tokenizer spec is empty; choose {Choices}");
        if (spec.Equals(Gpt2Tokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new Gpt2Tokenizer();
        if (spec.Equals(ByteTokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new ByteTokenizer();
        if (spec.Equals(ByteMlmTokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new ByteMlmTokenizer();
        if (spec.Equals(ByteSpanTokenizer.SpecName, StringComparison.OrdinalIgnoreCase)) return new ByteSpanTokenizer();
        if (File.Exists(spec) || Directory.Exists(spec)) return BpeFileTokenizer.Load(spec);
        throw new TokenizerException($"tokenizer '{spec}': not a known name nor an existing file or folder; choose {Choices}");
    }
}
