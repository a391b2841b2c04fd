using Engine.Tokenizers;
using Engine.Util;

namespace Engine.Objectives;

/// <summary>
/// T5's span corruption with the semantics of its random_spans_noise_mask (as HF's run_t5_mlm_flax copies it):
/// num_noise = round(L·density) clamped to [1, L − 1], num_spans = max(1, round(min(num_noise, L − num_noise)/mean))
/// (the min only matters above density 0.5), the noise and the non-noise tokens each split into num_spans runs of
/// random positive lengths, interleaved so the sequence starts with non-noise and ends with noise. Each noise span
/// becomes one sentinel in the inputs (&lt;extra_id_0&gt;, 1, … from the top of the vocabulary down) and the inputs end with
/// EOS; the targets are each sentinel followed by the span it replaced, then EOS. Rounding is half-to-even, numpy's.
/// <para>Every draw comes from a generator seeded by (seed, epoch, example): corruption changes every epoch yet an
/// example replays exactly, whatever the batch size, the order or a resume.</para>
/// </summary>
public sealed class SpanCorruption
{
    public const int Ignore = -100;
    readonly ISpanTokenizer tokenizer;
    readonly ulong seed;

    public double NoiseDensity { get; }
    public double MeanSpanLength { get; }
    /// <summary>Tokens taken from the data per example.</summary>
    public int RawLength { get; }
    /// <summary>Encoder inputs per example (the sequence length), exactly: kept tokens + one sentinel per span + EOS.</summary>
    public int InputLength { get; }
    /// <summary>Decoder targets per example, exactly: noise tokens + one sentinel per span + EOS.</summary>
    public int TargetLength { get; }

    public SpanCorruption(ISpanTokenizer tokenizer, int inputLength, double noiseDensity, double meanSpanLength, ulong seed)
    {
        if (!(noiseDensity is > 0 and < 1)) throw new EngineException(EngineOption.NoiseDensity, $"{EngineOption.NoiseDensity} {noiseDensity} must be between 0 and 1 (T5 uses 0.15)");
        if (!(meanSpanLength >= 1)) throw new EngineException(EngineOption.MeanSpanLength, $"{EngineOption.MeanSpanLength} {meanSpanLength} must be at least 1 (T5 uses 3)");
        if (inputLength < 3) throw new EngineException(EngineOption.SequenceLength, $"{EngineOption.SequenceLength} {inputLength} is too short for span corruption: it needs at least a kept token, a sentinel and EOS");
        this.tokenizer = tokenizer; this.seed = seed;
        NoiseDensity = noiseDensity; MeanSpanLength = meanSpanLength;
        (RawLength, TargetLength) = Lengths(inputLength, noiseDensity, meanSpanLength);
        InputLength = inputLength;
        int spans = SpanCount(RawLength, noiseDensity, meanSpanLength);
        if (spans > tokenizer.SentinelCount)
            throw new EngineException(EngineOption.SequenceLength, $"{EngineOption.SequenceLength} {inputLength} makes {spans} noise spans per example but the tokenizer '{tokenizer.Name}' has {tokenizer.SentinelCount} sentinels: lower {EngineOption.SequenceLength} or raise {EngineOption.MeanSpanLength}");
    }

    static int NoiseCount(int length, double density) => Math.Clamp((int)Math.Round(length * density), 1, length - 1);

    static int SpanCount(int length, double density, double mean)
    {
        int noise = NoiseCount(length, density);
        return Math.Max(1, (int)Math.Round(Math.Min(noise, length - noise) / mean));
    }

    /// <summary>
    /// The most raw tokens whose corrupted inputs still fit <paramref name="inputLength"/>, and the target length they
    /// give (T5's compute_input_and_target_lengths): 512 → 568 raw tokens and 114 targets. When the longest raw length
    /// leaves the inputs one short (rounding), the inputs are padded to fill <paramref name="inputLength"/>.
    /// </summary>
    public static (int RawLength, int TargetLength) Lengths(int inputLength, double density, double mean)
    {
        (int Inputs, int Targets) Of(int length)
        {
            int noise = (int)Math.Round(length * density), spans = (int)Math.Round(noise / mean);
            return (length - noise + spans + 1, noise + spans + 1);
        }
        int raw = inputLength;
        // T5 starts the search at the input length, which assumes spans shorten the text; with a mean span near 1 each
        // dropped token costs a sentinel, so the raw window must be shorter than the inputs (64 → 63 at mean span 1).
        while (raw > 2 && Of(raw).Inputs > inputLength) raw--;
        while (Of(raw + 1).Inputs <= inputLength) raw++;
        // The data's sampler clamps noise and spans to at least 1; use its counts for the exact target length.
        int n = NoiseCount(raw, density), s = SpanCount(raw, density, mean);
        return (raw, n + s + 1);
    }

    /// <summary>True at noise positions of a sequence of <paramref name="length"/> (random_spans_noise_mask).</summary>
    public bool[] NoiseMask(int length, Rng rng)
    {
        int noise = NoiseCount(length, NoiseDensity), spans = SpanCount(length, NoiseDensity, MeanSpanLength);
        var noiseLengths = RandomSegmentation(noise, spans, rng);
        var keptLengths = RandomSegmentation(length - noise, spans, rng);
        var mask = new bool[length];
        int at = 0;
        for (int i = 0; i < spans; i++)
        {
            at += keptLengths[i];
            for (int j = 0; j < noiseLengths[i]; j++) mask[at++] = true;
        }
        return mask;
    }

    /// <summary>
    /// Splits <paramref name="items"/> into <paramref name="segments"/> runs of positive length, every composition
    /// equally likely: segments − 1 distinct cut points chosen uniformly among the items − 1 gaps (the shuffle T5 does,
    /// as a partial Fisher–Yates).
    /// </summary>
    static int[] RandomSegmentation(int items, int segments, Rng rng)
    {
        var gaps = new int[items - 1];
        for (int i = 0; i < gaps.Length; i++) gaps[i] = i + 1;
        for (int i = 0; i < segments - 1; i++)
        {
            int j = i + rng.NextInt(gaps.Length - i);
            (gaps[i], gaps[j]) = (gaps[j], gaps[i]);
        }
        var cuts = gaps.AsSpan(0, segments - 1).ToArray();
        Array.Sort(cuts);
        var lengths = new int[segments];
        int previous = 0;
        for (int i = 0; i < cuts.Length; i++) { lengths[i] = cuts[i] - previous; previous = cuts[i]; }
        lengths[^1] = items - previous;
        return lengths;
    }

    /// <summary>Corrupts one example of <see cref="RawLength"/> tokens into inputs and targets of the exact lengths.</summary>
    public void Apply(ReadOnlySpan<int> raw, Span<int> inputs, Span<int> targets, long epoch, long example)
    {
        if (raw.Length != RawLength) throw new ArgumentException($"{raw.Length} raw tokens, expected {RawLength}");
        var mask = NoiseMask(raw.Length, new Rng(Mix(seed, epoch, example)));
        int i = 0, o = 0, span = -1;
        for (int t = 0; t < raw.Length; t++)
        {
            bool starts = mask[t] && (t == 0 || !mask[t - 1]);
            if (starts) { span++; inputs[i++] = tokenizer.Sentinel(span); targets[o++] = tokenizer.Sentinel(span); }
            if (mask[t]) targets[o++] = raw[t];
            else inputs[i++] = raw[t];
        }
        inputs[i++] = tokenizer.EndOfText;
        targets[o++] = tokenizer.EndOfText;
        // Rounding can leave the longest raw length one input short of the sequence length: pad (hidden from attention by the caller).
        for (; i < inputs.Length; i++) inputs[i] = tokenizer.PadToken;
        if (o != TargetLength) throw new InvalidOperationException($"span corruption made {o} targets, expected {TargetLength}");
    }

    /// <summary>One 64-bit seed from three numbers; Rng's SplitMix seeding spreads it further.</summary>
    static ulong Mix(ulong seed, long epoch, long example) =>
        seed * 0x9E3779B97F4A7C15UL ^ (ulong)epoch * 0xC2B2AE3D27D4EB4FUL ^ (ulong)example * 0x165667B19E3779F9UL;

    /// <summary>
    /// Decoder inputs from targets (HF's T5 _shift_right): each row starts with the decoder start id and continues with
    /// the targets but their last; an ignored target (−100) becomes the pad id.
    /// </summary>
    public static int[] ShiftRight(ReadOnlySpan<int> targets, int B, int T, int decoderStart, int pad)
    {
        if (targets.Length != B * T) throw new ArgumentException($"{targets.Length} targets for {B} × {T}");
        var shifted = new int[B * T];
        for (int b = 0; b < B; b++)
        {
            shifted[b * T] = decoderStart;
            for (int t = 1; t < T; t++)
            {
                int id = targets[b * T + t - 1];
                shifted[b * T + t] = id == Ignore ? pad : id;
            }
        }
        return shifted;
    }
}
