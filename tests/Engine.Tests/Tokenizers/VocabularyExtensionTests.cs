using Engine.Tests.Support;
using Engine.TokenizerTraining;
using Engine.Tokenizers;

namespace Engine.Tests.Tokenizers;

/// <summary>
/// Growing a model's vocabulary with a domain tokenizer's tokens (--extend-vocab): old ids keep their tokens, the new
/// tokens follow, text is split as the domain tokenizer splits it, and each new token knows its old pieces.
/// </summary>
public class VocabularyExtensionTests
{
    const string Shorthand = "sig: 1 tab po qid pc & hs\nsig: 2 caps po bid prn pain\nsig: 1 tab po tid ac\nsig: 5 ml po qid x10 days\n";

    static BpeFileTokenizer TrainDomain(TempFolder temp, int vocabSize = 300)
    {
        File.WriteAllText(temp["rx.txt"], string.Concat(Enumerable.Repeat(Shorthand, 20)));
        BpeTrainer.Train(new BpeTrainingOptions { Inputs = [temp["rx.txt"]], VocabSize = vocabSize, Out = temp["rx"], SpecialTokens = [BpeTrainingOptions.DefaultEndOfText] });
        return BpeFileTokenizer.Load(temp["rx"]);
    }

    [Fact]
    public void Old_ids_keep_their_tokens_and_the_domain_tokens_the_model_lacks_follow_them()
    {
        using var temp = new TempFolder();
        var domain = TrainDomain(temp);
        var old = new ByteTokenizer();
        var grown = VocabularyExtension.Build(old, domain);

        Assert.Equal(old.VocabSize, grown.OldVocabSize);
        var spellings = grown.Tokenizer.SpellingsById();
        Assert.Equal(old.SpellingsById(), spellings[..old.VocabSize]);
        // The byte tokenizer has the 256 bytes and <|endoftext|>: every merged domain token is new, nothing else is.
        int merged = domain.VocabSize - 256 - 1;
        Assert.Equal(merged, grown.NewTokens.Count);
        Assert.Equal(old.VocabSize + merged, grown.Tokenizer.VocabSize);
        Assert.Equal(Enumerable.Range(old.VocabSize, merged), grown.NewTokens.Select(t => t.Id));
        Assert.Equal(old.EndOfText, grown.Tokenizer.EndOfText);
        Assert.Contains(old.EndOfText, grown.Tokenizer.SpecialIds);
    }

    [Fact]
    public void The_grown_tokenizer_splits_text_as_the_domain_tokenizer_does_in_the_grown_ids()
    {
        using var temp = new TempFolder();
        var domain = TrainDomain(temp);
        var grown = VocabularyExtension.Build(new ByteTokenizer(), domain).Tokenizer;
        var domainSpellings = domain.SpellingsById();
        var grownSpellings = grown.SpellingsById();
        foreach (string text in new[] { "sig: 1 tab po qid pc & hs", "take 2 caps by mouth twice daily — naïve", "x10 days<|endoftext|>sig:" })
        {
            var byDomain = domain.Encode(text);
            var byGrown = grown.Encode(text);
            Assert.Equal(byDomain.Select(id => domainSpellings[id]), byGrown.Select(id => grownSpellings[id]));
            Assert.Equal(text, grown.Decode(byGrown));
        }
        // A domain word is one new token, and a new token's pieces are the old tokenizer's encoding of its text.
        var qid = grown.Encode(" qid");
        Assert.Single(qid);
        Assert.True(qid[0] >= 257);
    }

    [Fact]
    public void A_new_tokens_pieces_are_the_old_tokenizers_ids_for_its_text()
    {
        using var temp = new TempFolder();
        var old = new ByteTokenizer();
        var grown = VocabularyExtension.Build(old, TrainDomain(temp));
        foreach (var token in grown.NewTokens)
        {
            var bytes = ByteLevelSymbols.TryUnspell(token.Spelling)!;
            Assert.Equal(bytes.Select(b => (int)b), token.Pieces);
        }
    }

    [Fact]
    public void The_grown_vocabulary_is_written_as_a_tokenizer_json_that_loads_back_the_same()
    {
        using var temp = new TempFolder();
        var grown = VocabularyExtension.Build(new ByteTokenizer(), TrainDomain(temp)).Tokenizer;
        Directory.CreateDirectory(temp["ckpt"]);
        grown.Save(temp["ckpt"]);
        var loaded = TokenizerFactory.Resolve(RunBpeTokenizer.SpecName, temp["ckpt"]);
        Assert.Equal(grown.VocabSize, loaded.VocabSize);
        Assert.Equal(grown.Encode(Shorthand), loaded.Encode(Shorthand));
        // HF's files: the same file also loads as an ordinary BPE tokenizer.json.
        var plain = BpeFileTokenizer.Load(Path.Combine(temp["ckpt"], RunBpeTokenizer.FileName));
        Assert.Equal(grown.Encode(Shorthand), plain.Encode(Shorthand));
    }

    [Fact]
    public void GPT2s_vocabulary_is_spelt_as_its_vocab_json_spells_it()
    {
        var spellings = new Gpt2Tokenizer().SpellingsById();
        Assert.Equal(50_257, spellings.Length);
        Assert.All(spellings, s => Assert.NotNull(s));
        Assert.Equal(spellings.Length, spellings.Distinct().Count());
        // Entries of GPT-2's vocab.json: "!" 0, "Ġ" 220, "Ġthe" 262, "<|endoftext|>" 50256.
        Assert.Equal("!", spellings[0]);
        Assert.Equal("Ġ", spellings[220]);
        Assert.Equal("Ġthe", spellings[262]);
        Assert.Equal("<|endoftext|>", spellings[50256]);
    }

    [Fact]
    public void Growing_GPT2_adds_only_what_it_lacks_and_maps_new_tokens_to_its_pieces()
    {
        using var temp = new TempFolder();
        var gpt2 = new Gpt2Tokenizer();
        var grown = VocabularyExtension.Build(gpt2, TrainDomain(temp));
        Assert.Equal(gpt2.VocabSize, grown.OldVocabSize);
        // Words GPT-2 has whole (" tab", " days") are not added; shorthand it splits (" qid") is.
        var spellings = grown.Tokenizer.SpellingsById();
        Assert.DoesNotContain(grown.NewTokens, t => t.Spelling == "Ġtab");
        var qid = Assert.Single(grown.NewTokens, t => t.Spelling == "Ġqid");
        Assert.Equal(gpt2.Encode(" qid"), qid.Pieces);
        Assert.Equal("Ġqid", spellings[qid.Id]);
    }
}
