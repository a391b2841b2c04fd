namespace Engine.Data;

/// <summary>What <see cref="DatasetPreparer.Prepare"/> wrote.</summary>
public sealed record PrepareSummary(
    long Documents,
    long TrainDocuments,
    long ValDocuments,
    long TrainTokens,
    long ValTokens,
    IReadOnlyList<string> TrainFiles,
    IReadOnlyList<string> ValFiles,
    string MetaFile);
