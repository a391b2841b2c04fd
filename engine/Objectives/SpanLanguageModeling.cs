using Engine.Data;
using Engine.Tokenizers;

namespace Engine.Objectives;

/// <summary>
/// The `span` objective (T5): windows of <see cref="SpanCorruption.RawLength"/> tokens tiling the token stream, each
/// corrupted by <see cref="SpanCorruption"/> into exactly the sequence length's encoder inputs and a fixed number of targets; the
/// decoder reads the targets shifted right after the start id. An example is identified by the dataset position its
/// window starts at, and the epoch by the loader's wraps, so the loader's position is the whole state. Validation
/// corrupts with epoch 0 and a fixed seed: the same spans every time, comparable across runs.
/// </summary>
public sealed class SpanLanguageModeling : IBatchSource
{
    public const string Name = "span";
    /// <summary>Validation spans do not depend on the run's seed, so runs with different seeds are scored on the same task.</summary>
    const ulong ValidationSeed = 0x5EED_0F_5BA4;
    readonly CausalBatchLoader trainLoader;
    readonly TokenDataset validation;
    readonly SpanCorruption trainCorruption, validationCorruption;
    readonly ISpanTokenizer tokenizer;
    readonly long trainTokens;

    public SpanLanguageModeling(TokenDataset train, TokenDataset validation, ISpanTokenizer tokenizer, int inputLength, double noiseDensity, double meanSpanLength, ulong seed)
    {
        this.tokenizer = tokenizer;
        trainLoader = new CausalBatchLoader(train);
        trainTokens = train.Count;
        this.validation = validation;
        trainCorruption = new SpanCorruption(tokenizer, inputLength, noiseDensity, meanSpanLength, seed);
        validationCorruption = new SpanCorruption(tokenizer, inputLength, noiseDensity, meanSpanLength, ValidationSeed);
    }

    public string Objective => Name;
    public SpanCorruption Corruption => trainCorruption;

    public Batch NextTrainBatch(int sequences, int T)
    {
        CheckLength(T);
        long position = trainLoader.Position, epoch = trainLoader.Epoch;
        int raw = trainCorruption.RawLength;
        var windows = new int[sequences * raw];
        trainLoader.NextBatch(windows, new int[sequences * raw], sequences, raw);
        return Build(trainCorruption, windows, sequences, row =>
        {
            long start = position + (long)row * raw;
            return (epoch + start / trainTokens, start % trainTokens);
        });
    }

    public IReadOnlyList<Batch> ValidationBatches(int sequences, int T, int maxBatches)
    {
        CheckLength(T);
        var batches = new List<Batch>();
        int index = 0;
        foreach (var window in new CausalBatchLoader(validation).EvalBatches(sequences, validationCorruption.RawLength, maxBatches))
        {
            int first = index;
            batches.Add(Build(validationCorruption, window.Inputs, window.Sequences, row => (0, first + row)));
            index += window.Sequences;
        }
        return batches;
    }

    Batch Build(SpanCorruption corruption, int[] windows, int sequences, Func<int, (long Epoch, long Example)> identify)
    {
        int T = corruption.InputLength, Td = corruption.TargetLength, raw = corruption.RawLength;
        var inputs = new int[sequences * T];
        var targets = new int[sequences * Td];
        for (int row = 0; row < sequences; row++)
        {
            var (epoch, example) = identify(row);
            corruption.Apply(windows.AsSpan(row * raw, raw), inputs.AsSpan(row * T, T), targets.AsSpan(row * Td, Td), epoch, example);
        }
        // Inputs are padded only when rounding leaves the longest raw window one token short of the sequence length.
        int[]? mask = null;
        if (inputs.Contains(tokenizer.PadToken))
        {
            mask = new int[inputs.Length];
            for (int i = 0; i < mask.Length; i++) mask[i] = inputs[i] == tokenizer.PadToken ? 0 : 1;
        }
        return new Batch(inputs, targets, sequences, T)
        {
            AttentionMask = mask,
            DecoderTokens = SpanCorruption.ShiftRight(targets, sequences, Td, decoderStart: tokenizer.PadToken, pad: tokenizer.PadToken),
            DecoderT = Td,
        };
    }

    void CheckLength(int T)
    {
        if (T != trainCorruption.InputLength)
            throw new InvalidOperationException($"span batches were planned for a sequence length of {trainCorruption.InputLength}, asked for {T}");
    }

    public Dictionary<string, long> SaveState() => trainLoader.State.ToDictionary();
    public void RestoreState(IReadOnlyDictionary<string, long> state) => trainLoader.Restore(LoaderState.FromDictionary(state));
}
