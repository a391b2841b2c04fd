namespace Engine.Data;

/// <summary>One shard file of a <see cref="TokenDataset"/> and the range of dataset positions it fills.</summary>
public sealed record TokenDatasetShard(string Path, long Start, long Count);
