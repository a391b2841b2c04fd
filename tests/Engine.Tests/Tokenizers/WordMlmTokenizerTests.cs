using Engine.Tests.Support;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>The word vocabulary of the embedded mlm default: ids, round trips, specials, unknown words, files, errors.</summary>
public class WordMlmTokenizerTests
{
    const string Text = "sig: 1 tab po qd => take one tablet by mouth once a day\nsig: 2 tabs po bid => take two tablets by mouth twice a day\n";
    static readonly WordMlmTokenizer Tokenizer = WordMlmTokenizer.Build(Text);

    [Fact]
    public void Specials_come_first_then_words_most_frequent_first_ties_in_ordinal_order()
    {
        Assert.Equal(new[] { "[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]" }, Tokenizer.Tokens.Take(5));
        // Twice each: "=>", "a", "by", "day", "mouth", "po", "sig:", "take"; ordinal order puts "=>" first.
        Assert.Equal(new[] { "=>", "a", "by", "day", "mouth", "po", "sig:", "take", "1" }, Tokenizer.Tokens.Skip(5).Take(9));
        Assert.Equal(5 + 20, Tokenizer.VocabSize);
        Assert.Equal(Tokenizer.Tokens, WordMlmTokenizer.Build(Text).Tokens); // deterministic
        Assert.Equal(WordMlmTokenizer.Sep, Tokenizer.EndOfText);
        Assert.Equal(WordMlmTokenizer.Mask, Tokenizer.MaskToken);
        Assert.Equal(WordMlmTokenizer.Pad, Tokenizer.PadToken);
        Assert.Equal(WordMlmTokenizer.Cls, Tokenizer.ClsToken);
        Assert.All(Enumerable.Range(0, 5), id => Assert.True(Tokenizer.IsSpecial(id)));
        Assert.All(Enumerable.Range(5, Tokenizer.VocabSize - 5), id => Assert.False(Tokenizer.IsSpecial(id)));
    }

    [Fact]
    public void Text_with_single_spaces_round_trips_and_line_breaks_are_sep()
    {
        var ids = Tokenizer.Encode(Text);
        Assert.Equal(Text, Tokenizer.Decode(ids));
        Assert.Equal(2, ids.Count(id => id == WordMlmTokenizer.Sep));
        Assert.Equal(WordMlmTokenizer.Sep, ids[^1]);
        Assert.DoesNotContain(WordMlmTokenizer.Unknown, ids);
        // Other whitespace only separates words: it normalises to one space.
        Assert.Equal("take one tablet", Tokenizer.Decode(Tokenizer.Encode("  take\tone   tablet \r")));
    }

    [Fact]
    public void Special_tokens_in_text_encode_to_their_ids_even_next_to_other_characters()
    {
        var ids = Tokenizer.Encode("take one [MASK] by mouth");
        Assert.Equal(WordMlmTokenizer.Mask, ids[2]);
        Assert.Equal(5, ids.Length);
        Assert.Equal("take one [MASK] by mouth", Tokenizer.Decode(ids));
        Assert.Equal(new[] { WordMlmTokenizer.Cls, WordMlmTokenizer.Mask, WordMlmTokenizer.Mask, WordMlmTokenizer.Sep },
            Tokenizer.Encode("[CLS][MASK] [MASK][SEP]"));
        Assert.Equal("[MASK]", Tokenizer.SpecialText(WordMlmTokenizer.Mask));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.SpecialText(7));
    }

    [Fact]
    public void Unknown_words_encode_as_unk_and_case_matters()
    {
        var ids = Tokenizer.Encode("take one capsule by Mouth");
        Assert.Equal(new[] { false, false, true, false, true }, ids.Select(id => id == WordMlmTokenizer.Unknown));
        Assert.Equal("take one [UNK] by [UNK]", Tokenizer.Decode(ids));
        Assert.Empty(Tokenizer.Encode(""));
    }

    [Fact]
    public void Bad_input_gets_a_clear_error()
    {
        var e = Assert.Throws<TokenizerException>(() => Tokenizer.Decode(new[] { 5, Tokenizer.VocabSize }));
        Assert.Contains($"id {Tokenizer.VocabSize} is outside its vocabulary", e.Message);
        Assert.Throws<TokenizerException>(() => Tokenizer.Decode(new[] { -1 }));
        Assert.Contains("no words", Assert.Throws<TokenizerException>(() => WordMlmTokenizer.Build(" \n [MASK] \n")).Message);
        Assert.Throws<ArgumentNullException>(() => Tokenizer.Encode(null!));
    }

    [Fact]
    public void Saves_as_vocab_txt_and_loads_back_identically()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp["ckpt"]);
        Tokenizer.Save(temp["ckpt"]);
        var lines = File.ReadAllLines(Path.Combine(temp["ckpt"], WordMlmTokenizer.VocabularyFile));
        Assert.Equal(Tokenizer.Tokens, lines);
        var loaded = WordMlmTokenizer.Load(temp["ckpt"]);
        Assert.Equal(Tokenizer.Tokens, loaded.Tokens);
        Assert.Equal(Tokenizer.Encode(Text), loaded.Encode(Text));
        // A checkpoint records the name; the factory reads the vocabulary from the checkpoint folder.
        Assert.Equal(Tokenizer.Tokens, ((WordMlmTokenizer)TokenizerFactory.Resolve(WordMlmTokenizer.SpecName, temp["ckpt"])).Tokens);
        var e = Assert.Throws<TokenizerException>(() => TokenizerFactory.Resolve(WordMlmTokenizer.SpecName));
        Assert.Contains("vocab.txt", e.Message);
    }

    [Theory]
    [InlineData("[PAD]\n[CLS]\n[SEP]\n[UNK]\n[MASK]\nword\n", "line 4 must be [MASK]")]
    [InlineData("[PAD]\n[CLS]\n[SEP]\n[MASK]\n[UNK]\nword\nword\n", "line 7 repeats 'word'")]
    [InlineData("[PAD]\n[CLS]\n[SEP]\n[MASK]\n[UNK]\ntwo words\n", "line 6 is empty or holds whitespace")]
    [InlineData("[PAD]\n[CLS]\n", "line 3 must be [SEP]")]
    public void A_damaged_vocabulary_file_is_refused_naming_the_line(string content, string message)
    {
        using var temp = new TempFolder();
        string file = temp["vocab.txt"];
        File.WriteAllText(file, content);
        Assert.Contains(message, Assert.Throws<FileFormatException>(() => WordMlmTokenizer.Load(file)).Message);
    }

    [Fact]
    public void A_missing_vocabulary_file_is_named()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp["empty"]);
        Assert.Contains("vocab.txt not found", Assert.Throws<TokenizerException>(() => WordMlmTokenizer.Load(temp["empty"])).Message);
    }

    [Fact]
    public void The_embedded_corpus_vocabulary_covers_its_validation_text()
    {
        var corpus = Trainer.EmbeddedCorpus.Text();
        var tokenizer = WordMlmTokenizer.Build(corpus.Train);
        Assert.InRange(tokenizer.VocabSize, 100, 400);
        Assert.DoesNotContain(WordMlmTokenizer.Unknown, tokenizer.Encode(corpus.Validation));
    }
}
