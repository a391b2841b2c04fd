using System.Text;

namespace Engine.Tokenizers;

/// <summary>
/// How many tokens a tokenizer spends on a text: per whitespace-separated word and per UTF-8 byte. A tokenizer fitted
/// to a domain spends fewer, so a model sees more text per token of context and per FLOP.
/// </summary>
public sealed record TokenizerFertility(string Tokenizer, int VocabSize, long Tokens, long Words, long Bytes)
{
    public double TokensPerWord => Words == 0 ? double.NaN : (double)Tokens / Words;
    public double TokensPerByte => Bytes == 0 ? double.NaN : (double)Tokens / Bytes;

    /// <summary>Encodes each document on its own (as `trainer prepare` does) and counts.</summary>
    public static TokenizerFertility Measure(ITokenizer tokenizer, IEnumerable<string> documents)
    {
        long tokens = 0, words = 0, bytes = 0;
        foreach (string text in documents)
        {
            tokens += tokenizer.Encode(text).Length;
            bytes += Encoding.UTF8.GetByteCount(text);
            words += text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
        }
        return new TokenizerFertility(tokenizer.Name, tokenizer.VocabSize, tokens, words, bytes);
    }
}
