using System.IO.MemoryMappedFiles;

namespace Engine.Data;

/// <summary>
/// A token shard opened by memory mapping, for shards too big (or too many) to copy into managed arrays:
/// the operating system pages tokens in on demand and shares them between processes on one machine.
/// The header is validated exactly as <see cref="TokenShard.Read"/> does.
/// </summary>
public sealed unsafe class TokenShardReader : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _body;

    public string Path { get; }
    public TokenShardHeader Header { get; }
    public long Count => Header.TokenCount;

    public TokenShardReader(string path)
    {
        TokenShard.EnsureLittleEndianHost();
        Path = path;
        using (FileStream stream = TokenShard.OpenForReading(path))
            Header = TokenShard.ReadHeader(stream, path);

        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* start = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _body = start + _view.PointerOffset + TokenShard.HeaderBytes;
    }

    public int this[long index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            ObjectDisposedException.ThrowIf(_body == null, this);
            return Header.Version == TokenShard.Uint16Version
                ? ((ushort*)_body)[index]
                : (int)((uint*)_body)[index];
        }
    }

    /// <summary>Copies <c>destination.Length</c> tokens starting at token <paramref name="start"/>.</summary>
    public void CopyTo(long start, Span<int> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + destination.Length, Count);
        ObjectDisposedException.ThrowIf(_body == null, this);
        if (Header.Version == TokenShard.Uint16Version)
        {
            ushort* source = (ushort*)_body + start;
            for (int i = 0; i < destination.Length; i++) destination[i] = source[i];
        }
        else
        {
            new ReadOnlySpan<int>((int*)_body + start, destination.Length).CopyTo(destination);
        }
    }

    public void Dispose()
    {
        if (_body == null) return;
        _body = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
