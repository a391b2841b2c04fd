using System.Text;
using Engine.Corpus;
using Engine.Tests.Cli;
using Engine.Tokenizers;
using Engine.TokenizerTraining;
using TempFolder = Engine.Tests.Support.TempFolder;

namespace Engine.Tests.Tokenizers;

/// <summary>
/// `BpeTrainer`: byte-level BPE learnt from word counts, written as HF files that our loader (Microsoft.ML.Tokenizers)
/// runs. The merges of a small corpus are derived by hand below, so the test pins HF's BPE semantics, not just
/// self-consistency.
/// </summary>
[Collection("console")]
public class BpeTrainerTests
{
    /// <summary>
    /// Sennrich et al.'s example with a leading space, so GPT-2's regex makes every word " word" (spelt Ġword):
    /// Ġlow ×5, Ġlower ×2, Ġnewest ×6, Ġwidest ×3. Initial pair counts, over words:
    ///   e s 9 (newest 6 + widest 3), s t 9, w e 8 (lower 2 + newest 6), Ġ l 7, l o 7, o w 7,
    ///   Ġ n 6, n e 6, e w 6, Ġ w 3, w i 3, i d 3, d e 3, e r 2.
    /// Merges (ties: the smaller left spelling, then right, by ordinal; 'Ġ' is U+0120, after every ASCII letter):
    ///   1 "e s" (9, ties "s t": e &lt; s)        → n e w es t, w i d es t; now "es t" 9, "w es" 6, "d es" 3, "w e" 2
    ///   2 "es t" (9)                            → n e w est, w i d est
    ///   3 "l o" (7, ties "Ġ l", "o w": l &lt; o &lt; Ġ)
    ///   4 "lo w" (7, ties "Ġ lo": lo &lt; Ġ)
    ///   5 "Ġ low" (7)                           → Ġlow ×5, Ġlow e r ×2
    ///   6 "e w" (6, ties "Ġ n", "n e", "w est": e &lt; n &lt; w &lt; Ġ)
    ///   7 "ew est" (6, ties "Ġ n", "n ew")      8 "n ewest"     9 "Ġ newest"
    ///  10 "d est" (3, ties "Ġ w", "w i", "i d": d &lt; i &lt; w &lt; Ġ)   11 "i dest"   12 "w idest"   13 "Ġ widest"
    ///  14 "e r" (2, ties "Ġlow e": e &lt; Ġ)     15 "Ġlow er"
    /// and then every word is one token: 15 merges, ids 256–270, &lt;|endoftext|&gt; 271.
    /// </summary>
    const string Sennrich = " low low low low low lower lower newest newest newest newest newest newest widest widest widest";

    static readonly string[] AllMerges =
    [
        "e s", "es t", "l o", "lo w", "Ġ low", "e w", "ew est", "n ewest", "Ġ newest",
        "d est", "i dest", "w idest", "Ġ widest", "e r", "Ġlow er",
    ];

    static BpeTrainingSummary Train(TempFolder temp, string text, int vocabSize, string name = "tok", params string[] specials)
    {
        File.WriteAllText(temp[name + ".txt"], text);
        return BpeTrainer.Train(new BpeTrainingOptions
        {
            Inputs = [temp[name + ".txt"]], VocabSize = vocabSize, Out = temp[name],
            SpecialTokens = specials.Length > 0 ? specials : [BpeTrainingOptions.DefaultEndOfText],
        });
    }

    [Fact]
    public void The_first_merges_of_the_hand_worked_corpus_are_written_as_HF_files()
    {
        using var temp = new TempFolder();
        // 256 bytes + 5 merges + <|endoftext|>.
        var summary = Train(temp, Sennrich, vocabSize: 262);

        Assert.Equal(["#version: 0.2", "e s", "es t", "l o", "lo w", "Ġ low"], File.ReadAllLines(temp["tok/merges.txt"]));
        var vocab = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(temp["tok/vocab.json"]))!;
        Assert.Equal(262, vocab.Count);
        // Ids 0–255 are the bytes: 0x00 is spelt U+0100 (Ā), space (0x20) Ġ, 'a' itself.
        Assert.Equal((0, 32, 97), (vocab["\u0100"], vocab["Ġ"], vocab["a"]));
        Assert.Equal([("es", 256), ("est", 257), ("lo", 258), ("low", 259), ("Ġlow", 260), ("<|endoftext|>", 261)],
            vocab.Where(e => e.Value >= 256).OrderBy(e => e.Value).Select(e => (e.Key, e.Value)));
        Assert.Equal((5, 4, 16L), (summary.Vocabulary.Merges.Count, summary.DistinctWords, summary.Words));

        // Our loader runs the learnt merges by rank: " lowest" = Ġ l o w e s t → Ġ l o w es t → … → Ġlow est.
        foreach (string file in new[] { "tok", "tok/tokenizer.json", "tok/vocab.json" })
        {
            var tokenizer = TokenizerFactory.Resolve(temp[file]);
            Assert.Equal([260, 257], tokenizer.Encode(" lowest"));
            Assert.Equal([108, 260], tokenizer.Encode("l low")); // "l" alone is its byte 0x6C
            Assert.Equal((262, 261), (tokenizer.VocabSize, tokenizer.EndOfText));
        }
    }

    [Fact]
    public void Training_to_exhaustion_gives_every_hand_derived_merge_and_stops()
    {
        using var temp = new TempFolder();
        var summary = Train(temp, Sennrich, vocabSize: 1000);

        Assert.Equal(AllMerges, File.ReadAllLines(temp["tok/merges.txt"]).Skip(1));
        Assert.Equal(256 + 15 + 1, summary.Vocabulary.Tokens.Count);
        var tokenizer = BpeFileTokenizer.Load(temp["tok"]);
        // Ġnewest is merge 9 (id 264), Ġwidest 13 (268), Ġlower 15 (270), <|endoftext|> 271.
        Assert.Equal([264, 268, 270, 271], tokenizer.Encode(" newest widest lower<|endoftext|>"));
    }

    [Fact]
    public void The_same_input_gives_the_same_bytes()
    {
        using var temp = new TempFolder();
        string text = PrescriptionCorpus.Generate(seed: 7, trainLines: 400, validationLines: 0).Train;
        Train(temp, text, 500, "a");
        Train(temp, text, 500, "b");
        foreach (string file in new[] { BpeFilesWriter.TokenizerJson, BpeFilesWriter.VocabJson, BpeFilesWriter.MergesTxt })
            Assert.Equal(File.ReadAllBytes(Path.Combine(temp["a"], file)), File.ReadAllBytes(Path.Combine(temp["b"], file)));
        Assert.Equal(500, File.ReadAllLines(temp["a/merges.txt"]).Length - 1 + 256 + 1);
    }

    [Fact]
    public void Any_text_round_trips_through_the_trained_tokenizer_even_characters_it_never_saw()
    {
        using var temp = new TempFolder();
        // ASCII-only training text: every other character can only be spelt with the 256 byte tokens.
        Train(temp, PrescriptionCorpus.Generate(seed: 3, trainLines: 300, validationLines: 0).Train, 600);
        var tokenizer = BpeFileTokenizer.Load(temp["tok"]);

        // The encoder takes .NET strings, so random text is random Unicode scalar values (no lone surrogates, which
        // UTF-8 cannot hold): controls, Latin-1, combining marks, CJK, emoji, and runs of spaces and newlines.
        var random = new Random(17);
        int[][] ranges = [[0, 0x7F], [0x80, 0x2FF], [0x300, 0x36F], [0x4E00, 0x9FFF], [0x1F300, 0x1FAFF], [0xE000, 0xFFFD], [0x10000, 0x10FFFF]];
        for (int trial = 0; trial < 200; trial++)
        {
            var text = new StringBuilder();
            int length = random.Next(1, 40);
            for (int i = 0; i < length; i++)
            {
                if (random.Next(5) == 0) { text.Append(random.Next(2) == 0 ? "  " : "\n"); continue; }
                int[] range = ranges[random.Next(ranges.Length)];
                int codePoint = random.Next(range[0], range[1] + 1);
                if (codePoint is >= 0xD800 and <= 0xDFFF) codePoint = 'x';
                text.Append(char.ConvertFromUtf32(codePoint));
            }
            string s = text.ToString();
            int[] ids = tokenizer.Encode(s);
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.EndOfText - 1));
            Assert.Equal(s, tokenizer.Decode(ids));
        }
        // A character never seen costs one token per UTF-8 byte: 😀 is F0 9F 98 80.
        Assert.Equal([0xF0, 0x9F, 0x98, 0x80], tokenizer.Encode("😀"));
    }

    [Fact]
    public void Special_tokens_are_kept_whole_and_never_learnt_from()
    {
        using var temp = new TempFolder();
        string text = string.Concat(Enumerable.Repeat("one doc<|endoftext|><|sep|>", 50));
        var summary = Train(temp, text, 400, "tok", "<|sep|>");

        // <|endoftext|> is added first because documents need a separator; then the named ones.
        Assert.Equal(["<|endoftext|>", "<|sep|>"], summary.Vocabulary.SpecialTokens);
        Assert.DoesNotContain(summary.Vocabulary.Merges, m => (m.Left + m.Right).Contains('|') || (m.Left + m.Right).Contains('<'));
        var tokenizer = BpeFileTokenizer.Load(temp["tok/tokenizer.json"]);
        int eot = tokenizer.EndOfText, sep = eot + 1;
        Assert.Equal(summary.Vocabulary.Tokens.Count - 2, eot);
        int[] ids = tokenizer.Encode("doc<|sep|>doc<|endoftext|>");
        Assert.Equal(1, ids.Count(id => id == sep));
        Assert.Equal(1, ids.Count(id => id == eot));
        Assert.Equal("doc<|sep|>doc<|endoftext|>", tokenizer.Decode(ids));
    }

    [Fact]
    public void Bad_options_name_their_option_and_write_nothing()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp["text.txt"], Sennrich);
        File.WriteAllText(temp["empty.txt"], "");
        var cases = new (BpeTrainingOptions Options, EngineOption Option)[]
        {
            (new() { Inputs = [temp["text.txt"]], VocabSize = 256, Out = temp["out"] }, EngineOption.TokenizerVocabSize),
            (new() { Inputs = [temp["text.txt"]], VocabSize = 257, Out = temp["out"], SpecialTokens = ["<|endoftext|>", "<pad>"] }, EngineOption.TokenizerVocabSize),
            (new() { Inputs = [temp["missing.txt"]], VocabSize = 300, Out = temp["out"] }, EngineOption.Input),
            (new() { Inputs = [temp["empty.txt"]], VocabSize = 300, Out = temp["out"] }, EngineOption.Input),
            (new() { Inputs = [temp["text.txt"]], VocabSize = 300, Out = temp["out"], SpecialTokens = [""] }, EngineOption.SpecialTokens),
        };
        foreach (var (options, option) in cases)
        {
            var error = Assert.Throws<EngineException>(() => BpeTrainer.Train(options));
            Assert.Equal(option, error.Option);
            Assert.False(Directory.Exists(temp["out"]), error.Message);
        }
    }

    [Fact]
    public void The_command_line_trains_names_flags_in_errors_and_compares_fertility()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp["text.txt"], Sennrich);
        var (code, stdout, stderr) = ConsoleCapture.Run("tokenizer", "train", "--input", temp["text.txt"], "--vocab-size", "300", "--out", temp["tok"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("15 merges", stdout);
        Assert.Contains("15 merges, vocabulary 272/300, ", stderr); // progress: merges done, vocabulary size, rate

        (code, _, stderr) = ConsoleCapture.Run("tokenizer", "train", "--input", temp["text.txt"], "--vocab-size", "200", "--out", temp["small"]);
        Assert.Equal(1, code);
        Assert.Contains("--vocab-size 200 is too small", stderr);
        Assert.False(Directory.Exists(temp["small"]));

        // `tokenizer train`'s help is its own, without the root's list of commands that `train` (the root's) prints.
        (code, stdout, _) = ConsoleCapture.Run("tokenizer", "train", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--vocab-size N", stdout);
        Assert.DoesNotContain("Commands: train (default)", stdout);

        (code, stdout, stderr) = ConsoleCapture.Run("tokenizer", "stats", "--tokenizer", "byte", "--tokenizer", temp["tok"], "--input", temp["text.txt"]);
        Assert.True(code == 0, stderr);
        // 16 words, 95 bytes; the trained tokenizer spells each word as one token.
        Assert.Matches(@"tokens per word\s+5\.938\s+1\.000", stdout);
        Assert.Matches(@"tokens per byte\s+1\.000\s+0\.168", stdout);
    }

    [Fact]
    public void Fertility_counts_tokens_per_whitespace_word_and_per_byte()
    {
        var f = TokenizerFertility.Measure(new ByteTokenizer(), ["naïve  café", "xy"]);
        Assert.Equal((15L, 3L, 15L), (f.Tokens, f.Words, f.Bytes));
        Assert.Equal((5.0, 1.0), (f.TokensPerWord, f.TokensPerByte));
    }
}
