using System.Text;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class ByteTokenizerTests
{
    private readonly ByteTokenizer _tokenizer = new();

    [Theory]
    [InlineData("")]
    [InlineData("plain ASCII, with punctuation!")]
    [InlineData("Grüße, naïve café — 日本語のテキスト, 한국어, العربية")]
    [InlineData("emoji 🙂👩‍👩‍👧 and combining e\u0301 and \0 NUL")]
    public void EncodesUtf8BytesAndDecodesBack(string text)
    {
        int[] ids = _tokenizer.Encode(text);

        Assert.Equal(Encoding.UTF8.GetBytes(text).Select(b => (int)b), ids);
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Fact]
    public void RandomUnicodeRoundTrips()
    {
        var random = new Random(1234);
        for (int trial = 0; trial < 200; trial++)
        {
            var text = new StringBuilder();
            int length = random.Next(0, 40);
            for (int i = 0; i < length; i++)
            {
                int codePoint;
                do codePoint = random.Next(0, 0x110000); while (codePoint is >= 0xD800 and <= 0xDFFF);
                text.Append(char.ConvertFromUtf32(codePoint));
            }
            string original = text.ToString();
            Assert.Equal(original, _tokenizer.Decode(_tokenizer.Encode(original)));
        }
    }

    [Fact]
    public void DescribesItsVocabulary()
    {
        Assert.Equal(("byte", 257, 256), (_tokenizer.Name, _tokenizer.VocabSize, _tokenizer.EndOfText));
        Assert.Equal("a<|endoftext|>b", _tokenizer.Decode([97, 256, 98]));
    }

    [Fact]
    public void InvalidUtf8DecodesToReplacementCharactersWithoutThrowing()
    {
        int[] cutCharacter = _tokenizer.Encode("é")[..1]; // first byte of a two-byte character
        Assert.Equal("\uFFFD", _tokenizer.Decode(cutCharacter));
        Assert.Equal("a\uFFFD\uFFFDb", _tokenizer.Decode([97, 0xFF, 0xFE, 98]));
        Assert.Equal("\uFFFD<|endoftext|>", _tokenizer.Decode([0xC3, 256]));
    }

    [Fact]
    public void IdsOutsideTheVocabularyAreNamed()
    {
        var error = Assert.Throws<TokenizerException>(() => _tokenizer.Decode([1, 300]));
        Assert.Contains("id 300", error.Message);
    }
}
