namespace Engine.Tokenizers;

/// <summary>
/// Text to token ids and back. Every implementation has an end-of-text id, because prepared data separates
/// documents with it (GPT-2's convention) and generation stops on it.
/// </summary>
public interface ITokenizer
{
    /// <summary>The spec that recreates this tokenizer through <see cref="TokenizerFactory.Resolve"/> ("gpt2", "byte" or a full path).</summary>
    string Name { get; }

    /// <summary>One more than the largest id the tokenizer can produce: the smallest embedding table that fits its output.</summary>
    int VocabSize { get; }

    int EndOfText { get; }

    int[] Encode(string text);

    string Decode(ReadOnlySpan<int> ids);
}
