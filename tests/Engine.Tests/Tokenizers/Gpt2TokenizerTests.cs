using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class Gpt2TokenizerTests
{
    private readonly Gpt2Tokenizer _tokenizer = new();

    [Fact]
    public void EncodesGpt2sWellKnownIds()
    {
        Assert.Equal([15496, 995], _tokenizer.Encode("Hello world"));
        Assert.Equal([31373], _tokenizer.Encode("hello"));
        Assert.Equal([50256], _tokenizer.Encode("<|endoftext|>"));
    }

    [Fact]
    public void DescribesItsVocabulary()
    {
        Assert.Equal(("gpt2", 50257, 50256), (_tokenizer.Name, _tokenizer.VocabSize, _tokenizer.EndOfText));
    }

    [Theory]
    [InlineData("Hello world")]
    [InlineData("  leading spaces, tabs\tand\nnewlines\n\n")]
    [InlineData("Grüße aus Köln 🙂 — 日本語")]
    public void DecodesBackToTheText(string text)
    {
        Assert.Equal(text, _tokenizer.Decode(_tokenizer.Encode(text)));
    }

    [Fact]
    public void DecodesEndOfText()
    {
        Assert.Equal("Hello world<|endoftext|>", _tokenizer.Decode([15496, 995, 50256]));
    }
}
