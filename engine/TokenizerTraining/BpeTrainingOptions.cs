using Engine.Tokenizers;

namespace Engine.TokenizerTraining;

/// <summary>What <see cref="BpeTrainer"/> learns from and where it writes (the keys of its errors are these properties).</summary>
public sealed record BpeTrainingOptions
{
    /// <summary>Text files (.txt: one document) or JSON lines (.jsonl, field "text"), or folders of them (<see cref="EngineOption.Input"/>).</summary>
    public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>Tokens in the finished vocabulary: 256 bytes + merges + special tokens (<see cref="EngineOption.TokenizerVocabSize"/>).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Folder for tokenizer.json, vocab.json and merges.txt (<see cref="EngineOption.Out"/>).</summary>
    public required string Out { get; init; }

    /// <summary>
    /// Tokens kept whole, never merged into or learnt from, added after the merges (<see cref="EngineOption.SpecialTokens"/>).
    /// &lt;|endoftext|&gt; is added first when none of them is an end-of-text token (<see cref="BpeFileTokenizer.EndOfTextCandidates"/>).
    /// </summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [DefaultEndOfText];

    /// <summary>The document separator prepared data needs (<see cref="ITokenizer.EndOfText"/>), GPT-2's name for it.</summary>
    public const string DefaultEndOfText = "<|endoftext|>";
}
