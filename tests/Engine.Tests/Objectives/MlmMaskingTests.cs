using Trainer.Cli;
using Engine.Objectives;
using Engine.Tokenizers;

namespace Engine.Tests.Objectives;

/// <summary>
/// The masked-LM collator's statistics over many draws. Bounds are 5 binomial standard deviations: the draws are
/// deterministic (fixed seeds), so this is not about flakiness but about catching a wrong rate (a 0.15 that is really
/// 0.14 is 30σ off at these counts) while leaving room for any seed.
/// </summary>
public class MlmMaskingTests
{
    static readonly ByteMlmTokenizer Tokenizer = new();

    /// <summary>Text of ordinary bytes with [CLS] first, a [SEP] inside and [PAD]s at the end of every example.</summary>
    static int[] Example(int length, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[length];
        for (int i = 0; i < length; i++) ids[i] = "abcdefgh ijklmnop qrstu vwxyz"[rng.Next(29)];
        ids[0] = ByteMlmTokenizer.Cls;
        ids[length / 2] = ByteMlmTokenizer.Sep;
        for (int i = length - 5; i < length; i++) ids[i] = ByteMlmTokenizer.Pad;
        return ids;
    }

    static void WithinBinomial(long hits, long trials, double p, string what)
    {
        double mean = trials * p, sd = Math.Sqrt(trials * p * (1 - p));
        Assert.True(Math.Abs(hits - mean) <= 5 * sd, $"{what}: {hits} of {trials} ({(double)hits / trials:P3}), expected {p:P3} ± {5 * sd / trials:P3}");
    }

    [Fact]
    public void Chooses_fifteen_percent_of_ordinary_tokens_and_splits_them_80_10_10()
    {
        var masking = new MlmMasking(Tokenizer, 0.15, wholeWord: false, seed: 11);
        long eligible = 0, chosen = 0, masked = 0, random = 0, kept = 0;
        for (int example = 0; example < 2000; example++)
        {
            var original = Example(128, example);
            var tokens = (int[])original.Clone();
            var labels = new int[tokens.Length];
            masking.Apply(tokens, labels, epoch: 0, example);
            for (int i = 0; i < tokens.Length; i++)
            {
                if (Tokenizer.IsSpecial(original[i]))
                {
                    Assert.Equal(-100, labels[i]);           // specials and padding are never chosen …
                    Assert.Equal(original[i], tokens[i]);    // … nor changed
                    continue;
                }
                eligible++;
                if (labels[i] == -100) { Assert.Equal(original[i], tokens[i]); continue; }
                Assert.Equal(original[i], labels[i]);        // the label is the original token
                chosen++;
                if (tokens[i] == ByteMlmTokenizer.Mask) masked++;
                else if (tokens[i] != original[i]) { random++; Assert.False(Tokenizer.IsSpecial(tokens[i])); }
                else kept++;
            }
        }
        WithinBinomial(chosen, eligible, 0.15, "chosen");
        WithinBinomial(masked, chosen, 0.8, "[MASK]");
        // A random replacement equal to the original (1 in 256) counts as kept.
        WithinBinomial(random, chosen, 0.1 * 255 / 256, "random");
        WithinBinomial(kept, chosen, 0.1 + 0.1 / 256, "kept");
    }

    [Fact]
    public void Masks_replay_for_the_same_seed_epoch_and_example_and_change_with_the_epoch()
    {
        var masking = new MlmMasking(Tokenizer, 0.15, false, seed: 3);
        int[] Labels(long epoch, long example)
        {
            var tokens = Example(200, 1);
            var labels = new int[tokens.Length];
            masking.Apply(tokens, labels, epoch, example);
            return labels;
        }
        Assert.Equal(Labels(2, 40), Labels(2, 40));
        Assert.NotEqual(Labels(2, 40), Labels(3, 40));
        Assert.NotEqual(Labels(2, 40), Labels(2, 41));
        Assert.NotEqual(Labels(2, 40), new MlmMaskingProbe(new MlmMasking(Tokenizer, 0.15, false, seed: 4)).Labels(2, 40));
    }

    sealed class MlmMaskingProbe(MlmMasking masking)
    {
        public int[] Labels(long epoch, long example)
        {
            var tokens = Example(200, 1);
            var labels = new int[tokens.Length];
            masking.Apply(tokens, labels, epoch, example);
            return labels;
        }
    }

    [Fact]
    public void Whole_word_masking_takes_every_byte_of_a_chosen_word_and_chooses_words_at_the_rate()
    {
        var masking = new MlmMasking(Tokenizer, 0.15, wholeWord: true, seed: 5);
        long words = 0, chosenWords = 0;
        for (int example = 0; example < 1500; example++)
        {
            var original = Example(128, example + 7);
            var tokens = (int[])original.Clone();
            var labels = new int[tokens.Length];
            masking.Apply(tokens, labels, 0, example);
            // Split the original into words: runs of letters; every other byte is a word of its own.
            for (int i = 0; i < original.Length;)
            {
                if (Tokenizer.IsSpecial(original[i])) { Assert.Equal(-100, labels[i]); i++; continue; }
                int end = i + 1;
                if (!Tokenizer.IsWordSeparator(original[i]))
                    while (end < original.Length && !Tokenizer.IsWordSeparator(original[end])) end++;
                int labelled = 0;
                for (int j = i; j < end; j++) if (labels[j] != -100) labelled++;
                Assert.True(labelled == 0 || labelled == end - i, $"example {example}: word at {i}..{end} is partly chosen ({labelled} of {end - i})");
                words++;
                if (labelled > 0) chosenWords++;
                i = end;
            }
        }
        WithinBinomial(chosenWords, words, 0.15, "chosen words");
    }

    [Fact]
    public void A_mask_probability_outside_0_1_is_refused()
    {
        var e = Assert.Throws<EngineException>(() => new MlmMasking(Tokenizer, 1.5, false, 1));
        Assert.Equal(EngineOption.MaskProbability, e.Option);
        Assert.Contains("--mask-prob", FlagNames.Render(e));
    }

    [Fact]
    public void The_tokenizer_reads_and_writes_special_tokens_literally()
    {
        var ids = Tokenizer.Encode("take one [MASK] by [x] mouth[SEP]");
        Assert.Contains(ByteMlmTokenizer.Mask, ids);
        Assert.Equal(ByteMlmTokenizer.Sep, ids[^1]);
        Assert.Equal("take one [MASK] by [x] mouth[SEP]", Tokenizer.Decode(ids));
        Assert.Equal("take one ".Length + 1 + " by [x] mouth".Length + 1, ids.Length);
    }
}
