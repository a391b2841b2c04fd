namespace Engine.Objectives;

/// <summary>
/// What an objective supplies to the loop: training micro-batches in a reproducible order with a saveable position,
/// and a fixed validation set. Objectives (clm, mlm, span) are batch builders behind this interface.
/// </summary>
public interface IBatchSource
{
    string Objective { get; }
    Batch NextTrainBatch(int sequences, int T);
    IReadOnlyList<Batch> ValidationBatches(int sequences, int T, int maxBatches);
    /// <summary>Position in the training data (and any random state) as plain numbers for the checkpoint.</summary>
    Dictionary<string, long> SaveState();
    void RestoreState(IReadOnlyDictionary<string, long> state);
    /// <summary>Sequences drawn so far from each named source of a mixture (<see cref="MixedBatchSource"/>); null for a
    /// source that is not one (the embedded corpus).</summary>
    IReadOnlyDictionary<string, long>? SequencesBySource => null;
}
