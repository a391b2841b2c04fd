using Engine.Data;
using Engine.Tokenizers;

namespace Engine.Objectives;

/// <summary>
/// The `mlm` objective: windows of the token stream (the same tiling as clm), masked by <see cref="MlmMasking"/>;
/// the model predicts the original id at every chosen position (no shift). An example is identified by the dataset
/// position its window starts at, and the epoch by the loader's wraps, so the loader's position is the whole state.
/// Validation masks with epoch 0 and a fixed seed: the same positions every time, comparable across runs.
/// </summary>
public sealed class MaskedLanguageModeling : IBatchSource
{
    public const string Name = "mlm";
    /// <summary>Validation masks do not depend on the run's seed, so runs with different seeds are scored on the same task.</summary>
    const ulong ValidationSeed = 0x5EED_0F_BA11;
    readonly CausalBatchLoader trainLoader;
    readonly TokenDataset validation;
    readonly MlmMasking trainMasking, validationMasking;
    readonly long trainTokens;

    public MaskedLanguageModeling(TokenDataset train, TokenDataset validation, IMaskingTokenizer tokenizer, double maskProbability, bool wholeWord, ulong seed)
    {
        trainLoader = new CausalBatchLoader(train);
        trainTokens = train.Count;
        this.validation = validation;
        trainMasking = new MlmMasking(tokenizer, maskProbability, wholeWord, seed);
        validationMasking = new MlmMasking(tokenizer, maskProbability, wholeWord, ValidationSeed);
    }

    public string Objective => Name;

    public Batch NextTrainBatch(int sequences, int T)
    {
        long position = trainLoader.Position, epoch = trainLoader.Epoch;
        var tokens = new int[sequences * T];
        var shifted = new int[sequences * T];
        trainLoader.NextBatch(tokens, shifted, sequences, T);
        var labels = new int[sequences * T];
        for (int row = 0; row < sequences; row++)
        {
            long start = position + (long)row * T;
            trainMasking.Apply(tokens.AsSpan(row * T, T), labels.AsSpan(row * T, T), epoch + start / trainTokens, start % trainTokens);
        }
        return new Batch(tokens, labels, sequences, T);
    }

    public IReadOnlyList<Batch> ValidationBatches(int sequences, int T, int maxBatches)
    {
        var batches = new List<Batch>();
        int index = 0;
        foreach (var window in new CausalBatchLoader(validation).EvalBatches(sequences, T, maxBatches))
        {
            var tokens = window.Inputs;
            var labels = new int[tokens.Length];
            for (int row = 0; row < window.Sequences; row++, index++)
                validationMasking.Apply(tokens.AsSpan(row * T, T), labels.AsSpan(row * T, T), 0, index);
            batches.Add(new Batch(tokens, labels, window.Sequences, T));
        }
        return batches;
    }

    public Dictionary<string, long> SaveState() => trainLoader.State.ToDictionary();
    public void RestoreState(IReadOnlyDictionary<string, long> state) => trainLoader.Restore(LoaderState.FromDictionary(state));
}
