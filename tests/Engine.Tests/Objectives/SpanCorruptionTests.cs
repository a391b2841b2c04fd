using Trainer.Cli;
using Engine.Objectives;
using Engine.Tokenizers;
using Engine.Util;

namespace Engine.Tests.Objectives;

/// <summary>
/// T5 span corruption: exact lengths (T5's own 512 → 568 / 114), the structure of inputs and targets (sentinels from
/// the top down, EOS last, nothing lost), and the statistics of random_spans_noise_mask over many draws.
/// </summary>
public class SpanCorruptionTests
{
    static readonly ByteSpanTokenizer Tokenizer = new();

    [Theory]
    [InlineData(512, 568, 114)] // T5's compute_input_and_target_lengths for its pre-training setup
    [InlineData(128, 141, 29)]
    [InlineData(64, 70, 14)]
    public void Raw_and_target_lengths_fill_the_inputs_exactly(int inputs, int raw, int targets)
    {
        Assert.Equal((raw, targets), SpanCorruption.Lengths(inputs, 0.15, 3));
        var corruption = new SpanCorruption(Tokenizer, inputs, 0.15, 3, seed: 1);
        var data = Enumerable.Range(0, raw).Select(i => 3 + i % 256).ToArray();
        var (x, y) = (new int[inputs], new int[targets]);
        corruption.Apply(data, x, y, 0, 0);
        Assert.DoesNotContain(ByteSpanTokenizer.Pad, x); // filled by real tokens, sentinels and EOS only
    }

    /// <summary>
    /// At mean span 1 every dropped token costs a sentinel, so the raw window is shorter than the inputs; T5's search,
    /// which starts at the input length, would overfill them (64 inputs from 64 raw tokens: 10 spans, 65 inputs).
    /// </summary>
    [Theory]
    [InlineData(64, 63, 19)]
    [InlineData(32, 31, 11)]
    public void Mean_span_1_takes_fewer_raw_tokens_than_inputs(int inputs, int raw, int targets)
    {
        Assert.Equal((raw, targets), SpanCorruption.Lengths(inputs, 0.15, 1));
        var corruption = new SpanCorruption(Tokenizer, inputs, 0.15, 1, seed: 1);
        var data = Enumerable.Range(0, raw).Select(i => 3 + i % 256).ToArray();
        var (x, y) = (new int[inputs], new int[targets]);
        corruption.Apply(data, x, y, 0, 0);
        Assert.Equal(ByteSpanTokenizer.Eos, x[^1]);
        Assert.Equal((targets - 1) / 2, y.Count(id => Tokenizer.SentinelIndex(id) >= 0)); // one token per span
    }

    /// <summary>Every example: inputs = kept tokens with one sentinel per span then EOS; targets = each sentinel and its span, then EOS.</summary>
    [Fact]
    public void Inputs_and_targets_are_sentinel_interleavings_of_the_original()
    {
        var corruption = new SpanCorruption(Tokenizer, 128, 0.15, 3, seed: 42);
        int raw = corruption.RawLength, spans = 7; // round(21 / 3)
        var rng = new Random(3);
        for (int example = 0; example < 300; example++)
        {
            var data = Enumerable.Range(0, raw).Select(_ => 3 + rng.Next(256)).ToArray();
            var (x, y) = (new int[128], new int[corruption.TargetLength]);
            corruption.Apply(data, x, y, epoch: 0, example);
            Assert.Equal(ByteSpanTokenizer.Eos, x[^1]);
            Assert.Equal(ByteSpanTokenizer.Eos, y[^1]);
            Assert.Equal(Tokenizer.Sentinel(0), y[0]);             // spans end the sequence's noise-free start
            Assert.NotEqual(Tokenizer.Sentinel(0), x[0]);          // spans start non-noise
            var inputSentinels = x.Where(id => Tokenizer.SentinelIndex(id) >= 0).ToArray();
            var targetSentinels = y.Where(id => Tokenizer.SentinelIndex(id) >= 0).ToArray();
            Assert.Equal(Enumerable.Range(0, spans).Select(Tokenizer.Sentinel), inputSentinels); // 358, 357, … in order
            Assert.Equal(inputSentinels, targetSentinels);
            Assert.Equal(358, Tokenizer.Sentinel(0));
            Assert.Equal(data, Reconstruct(x, y));
        }
    }

    /// <summary>Puts each target span back in place of its sentinel.</summary>
    static int[] Reconstruct(int[] inputs, int[] targets)
    {
        var spans = new Dictionary<int, List<int>>();
        int current = -1;
        foreach (int id in targets[..^1])
            if (Tokenizer.SentinelIndex(id) >= 0) spans[current = id] = new List<int>();
            else spans[current].Add(id);
        return inputs[..^1].SelectMany(id => spans.TryGetValue(id, out var s) ? s : new List<int> { id }).ToArray();
    }

    /// <summary>
    /// random_spans_noise_mask over 4000 draws of 568 tokens: always exactly round(568·0.15) = 85 noise tokens in
    /// round(85/3) = 28 spans, the first token kept and the last noise. Every composition of the 85 noise tokens into 28
    /// positive runs is equally likely, so a run has length 1 with probability C(83, 26)/C(84, 27) = 27/84; the same for
    /// the 483 kept tokens gives 27/482. Draws are independent, so the observed fractions of first runs of length 1
    /// must lie within 4.5 binomial standard deviations (a false alarm about once in 150 000 runs).
    /// </summary>
    [Fact]
    public void Noise_mask_statistics_follow_random_spans_noise_mask()
    {
        var corruption = new SpanCorruption(Tokenizer, 512, 0.15, 3, seed: 9);
        const int draws = 4000, L = 568;
        int firstNoiseOne = 0, firstKeptOne = 0;
        long noiseRunTotal = 0;
        for (int d = 0; d < draws; d++)
        {
            var mask = corruption.NoiseMask(L, new Rng((ulong)d * 7919 + 1));
            var runs = Runs(mask);
            Assert.Equal(85, mask.Count(m => m));
            Assert.False(mask[0]);
            Assert.True(mask[^1]);
            var noise = runs.Where(r => r.Noise).Select(r => r.Length).ToArray();
            var kept = runs.Where(r => !r.Noise).Select(r => r.Length).ToArray();
            Assert.Equal(28, noise.Length);
            Assert.Equal(28, kept.Length);
            noiseRunTotal += noise.Sum();
            if (noise[0] == 1) firstNoiseOne++;
            if (kept[0] == 1) firstKeptOne++;
        }
        Assert.Equal(85.0 / 28, noiseRunTotal / (28.0 * draws), 12); // mean span length 3.04 (mean 3 asked, rounding)
        AssertBinomial(firstNoiseOne, draws, 27.0 / 84, "noise runs of length 1");
        AssertBinomial(firstKeptOne, draws, 27.0 / 482, "kept runs of length 1");
    }

    static void AssertBinomial(int hits, int n, double p, string what)
    {
        double sigma = Math.Sqrt(p * (1 - p) / n), observed = (double)hits / n;
        Assert.True(Math.Abs(observed - p) <= 4.5 * sigma, $"{what}: observed {observed:F4}, expected {p:F4} ± {4.5 * sigma:F4}");
    }

    static List<(bool Noise, int Length)> Runs(bool[] mask)
    {
        var runs = new List<(bool, int)>();
        for (int i = 0; i < mask.Length;)
        {
            int j = i;
            while (j < mask.Length && mask[j] == mask[i]) j++;
            runs.Add((mask[i], j - i));
            i = j;
        }
        return runs;
    }

    [Theory]
    [InlineData(100, 15, 5)]
    [InlineData(10, 2, 1)]   // round(1.5) = 2 (half to even, numpy's), round(2/3) = 1
    [InlineData(30, 4, 1)]   // round(4.5) = 4 (half to even), round(4/3) = 1
    [InlineData(3, 1, 1)]    // round(0.45) = 0 → clamped to 1
    public void Noise_and_span_counts_round_like_numpy(int length, int noise, int spans)
    {
        var corruption = new SpanCorruption(Tokenizer, 128, 0.15, 3, seed: 1);
        for (int d = 0; d < 50; d++)
        {
            var runs = Runs(corruption.NoiseMask(length, new Rng((ulong)d)));
            Assert.Equal(noise, runs.Where(r => r.Noise).Sum(r => r.Length));
            Assert.Equal(spans, runs.Count(r => r.Noise));
        }
    }

    [Fact]
    public void Corruption_is_deterministic_per_seed_epoch_and_example()
    {
        var corruption = new SpanCorruption(Tokenizer, 128, 0.15, 3, seed: 5);
        var data = Enumerable.Range(0, corruption.RawLength).Select(i => 3 + i).ToArray();
        int[] Run(long epoch, long example)
        {
            var (x, y) = (new int[128], new int[corruption.TargetLength]);
            corruption.Apply(data, x, y, epoch, example);
            return x.Concat(y).ToArray();
        }
        Assert.Equal(Run(2, 17), Run(2, 17));
        Assert.NotEqual(Run(2, 17), Run(3, 17));
        Assert.NotEqual(Run(2, 17), Run(2, 18));
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_flag_to_change()
    {
        var density = Assert.Throws<EngineException>(() => new SpanCorruption(Tokenizer, 128, 1.5, 3, 1));
        Assert.Equal(EngineOption.NoiseDensity, density.Option);
        Assert.Contains("--noise-density", FlagNames.Render(density));
        var span = Assert.Throws<EngineException>(() => new SpanCorruption(Tokenizer, 128, 0.15, 0.5, 1));
        Assert.Equal(EngineOption.MeanSpanLength, span.Option);
        Assert.Contains("--mean-span", FlagNames.Render(span));
        var e = Assert.Throws<EngineException>(() => new SpanCorruption(Tokenizer, 4096, 0.15, 3, 1)); // ≈ 230 spans > 100 sentinels
        Assert.Equal(EngineOption.SequenceLength, e.Option);
        Assert.Contains("--seq 4096", FlagNames.Render(e));
    }

    [Fact]
    public void Decoder_inputs_are_the_targets_shifted_right_after_the_start_id() =>
        Assert.Equal(new[] { 0, 358, 10, 11, 0, 5, 1, 0 }, SpanCorruption.ShiftRight(new[] { 358, 10, 11, 1, 5, 1, -100, -100 }, 2, 4, 0, 0));
}
