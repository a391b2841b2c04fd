namespace Engine.Data;

/// <summary>
/// The facts a token shard's 1024-byte header states, already checked against the file's length.
/// Version 1 stores each token as uint16 (vocabularies up to 65,536), version 2 as uint32.
/// </summary>
public readonly record struct TokenShardHeader(int Version, long TokenCount)
{
    public int BytesPerToken => Version == TokenShard.Uint16Version ? 2 : 4;

    public long BodyBytes => TokenCount * BytesPerToken;
}
