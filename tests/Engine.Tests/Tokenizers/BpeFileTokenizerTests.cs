using Engine.Tests.Data;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

public class BpeFileTokenizerTests : IClassFixture<Gpt2FilesFixture>
{
    private const string Paragraph =
        "The tokenizer splits text into words, then merges byte pairs by priority. Numbers like 1234567 and " +
        "symbols (#, @, ~) go through the same path; so do contractions: don't, we'll, it's.\n\n  Indented lines, " +
        "Grüße aus Köln, naïve café, 日本語, and emoji 🙂 too.<|endoftext|>A second document.";

    private readonly Gpt2FilesFixture _gpt2;

    public BpeFileTokenizerTests(Gpt2FilesFixture gpt2) => _gpt2 = gpt2;

    [Fact]
    public void TinyTokenizerJsonAppliesItsMergesInPriorityOrder()
    {
        using var temp = new TempFolder();
        string path = temp.WriteText("tokenizer.json", TinyBpeTokenizerJson.Text);

        BpeFileTokenizer tokenizer = BpeFileTokenizer.Load(path);

        // "the" → t h e → t he (no "t he" merge); " the" → Ġ t h e → Ġ t he → Ġt he → Ġthe.
        Assert.Equal([116, 256, 258], tokenizer.Encode("the the"));
        Assert.Equal("the the", tokenizer.Decode([116, 256, 258]));
        Assert.Equal([120, 259, 121], tokenizer.Encode("x<|endoftext|>y"));
        Assert.Equal((260, 259, "<|endoftext|>"), (tokenizer.VocabSize, tokenizer.EndOfText, tokenizer.EndOfTextToken));
    }

    [Fact]
    public void Gpt2TokenizerJsonGivesTheSameIdsAsTheBuiltInGpt2()
    {
        var reference = new Gpt2Tokenizer();
        BpeFileTokenizer fromFile = BpeFileTokenizer.Load(_gpt2.TokenizerJson);

        Assert.Equal(reference.Encode(Paragraph), fromFile.Encode(Paragraph));
        Assert.Equal([15496, 995], fromFile.Encode("Hello world"));
        Assert.Equal((50257, 50256), (fromFile.VocabSize, fromFile.EndOfText));
        Assert.Equal(Paragraph, fromFile.Decode(fromFile.Encode(Paragraph)));
    }

    [Fact]
    public void Gpt2VocabAndMergesPairGivesTheSameIds()
    {
        var reference = new Gpt2Tokenizer();
        // Load by the vocab.json file and by its folder.
        BpeFileTokenizer byFile = BpeFileTokenizer.Load(_gpt2.VocabJson);
        BpeFileTokenizer byFolder = BpeFileTokenizer.Load(Path.GetDirectoryName(_gpt2.VocabJson)!);

        Assert.Equal(reference.Encode(Paragraph), byFile.Encode(Paragraph));
        Assert.Equal(reference.Encode(Paragraph), byFolder.Encode(Paragraph));
        Assert.Equal((50257, 50256), (byFile.VocabSize, byFile.EndOfText));
    }

    [Fact]
    public void UnsupportedModelTypeIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.WriteText("tokenizer.json", TinyBpeTokenizerJson.Build(modelType: "WordPiece", withEndOfText: true));

        var error = Assert.Throws<FileFormatException>(() => BpeFileTokenizer.Load(path));

        Assert.StartsWith($"tokenizer file {Path.GetFullPath(path)}: model type 'WordPiece' is not supported", error.Message);
    }

    [Fact]
    public void TokenizerWithoutEndOfTextIsRefused()
    {
        using var temp = new TempFolder();
        string path = temp.WriteText("tokenizer.json", TinyBpeTokenizerJson.Build(modelType: "BPE", withEndOfText: false));

        var error = Assert.Throws<FileFormatException>(() => BpeFileTokenizer.Load(path));

        Assert.Contains("defines no end-of-text token", error.Message);
    }

    [Fact]
    public void VocabJsonWithoutMergesIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.WriteText("vocab.json", "{\"a\": 0, \"<|endoftext|>\": 1}");

        var error = Assert.Throws<TokenizerException>(() => BpeFileTokenizer.Load(path));

        Assert.Contains("merges.txt not found", error.Message);
    }
}
