using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class TokenizerFactoryTests
{
    [Fact]
    public void BuiltInNamesResolve()
    {
        Assert.IsType<Gpt2Tokenizer>(TokenizerFactory.Resolve("gpt2"));
        Assert.IsType<ByteTokenizer>(TokenizerFactory.Resolve("byte"));
        Assert.IsType<ByteTokenizer>(TokenizerFactory.Resolve("Byte"));
    }

    [Fact]
    public void UnknownSpecIsNamedWithTheChoices()
    {
        var error = Assert.Throws<TokenizerException>(() => TokenizerFactory.Resolve("gpt5-nonexistent"));

        Assert.StartsWith("tokenizer 'gpt5-nonexistent': not a known name", error.Message);
        Assert.Contains("'gpt2'", error.Message);
        Assert.Contains("'byte'", error.Message);
        Assert.Contains("tokenizer.json", error.Message);
    }

    [Fact]
    public void PathsResolveToFileTokenizers()
    {
        using var temp = new Engine.Tests.Data.TempFolder();
        string path = temp.WriteText("tokenizer.json", TinyBpeTokenizerJson.Text);

        ITokenizer tokenizer = TokenizerFactory.Resolve(path);

        Assert.IsType<BpeFileTokenizer>(tokenizer);
        Assert.Equal(path, tokenizer.Name);
        Assert.Equal(path, TokenizerFactory.Resolve(tokenizer.Name).Name);
    }
}
