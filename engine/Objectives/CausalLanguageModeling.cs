using Engine.Data;

namespace Engine.Objectives;

/// <summary>
/// The `clm` objective: predict every next token. Batches are consecutive windows of the token stream; every position
/// counts. All state is the loader's position, so resume continues with the exact batch the run would have read.
/// </summary>
public sealed class CausalLanguageModeling(TokenDataset train, TokenDataset validation) : IBatchSource
{
    public const string Name = "clm";
    readonly CausalBatchLoader trainLoader = new(train);
    readonly CausalBatchLoader validationLoader = new(validation);

    public string Objective => Name;

    public Batch NextTrainBatch(int sequences, int T)
    {
        var tokens = new int[sequences * T];
        var targets = new int[sequences * T];
        trainLoader.NextBatch(tokens, targets, sequences, T);
        return new Batch(tokens, targets, sequences, T);
    }

    public IReadOnlyList<Batch> ValidationBatches(int sequences, int T, int maxBatches) =>
        validationLoader.EvalBatches(sequences, T, maxBatches).Select(b => new Batch(b.Inputs, b.Targets, b.Sequences, b.T)).ToList();

    public Dictionary<string, long> SaveState() => trainLoader.State.ToDictionary();
    public void RestoreState(IReadOnlyDictionary<string, long> state) => trainLoader.Restore(LoaderState.FromDictionary(state));
}
