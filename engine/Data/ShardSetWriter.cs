namespace Engine.Data;

/// <summary>
/// Streams one split's tokens into numbered shards (<c>train_000000.bin</c>, <c>train_000001.bin</c>, …), each holding at
/// most <c>shardTokens</c> tokens, so a corpus larger than memory is prepared with one shard's worth of RAM.
/// </summary>
public sealed class ShardSetWriter
{
    private readonly string _folder;
    private readonly string _split;
    private readonly int _shardTokens;
    private readonly int _vocabSize;
    private readonly Action<string>? _progress;
    private readonly List<string> _files = [];
    private int[] _buffer;
    private int _buffered;

    public ShardSetWriter(string folder, string split, int shardTokens, int vocabSize, Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardTokens);
        _folder = folder;
        _split = split;
        _shardTokens = shardTokens;
        _vocabSize = vocabSize;
        _progress = progress;
        // Start small and grow: most test and toy corpora are far below the 100M-token default shard.
        _buffer = new int[Math.Min(shardTokens, 1 << 16)];
    }

    public long TokensWritten { get; private set; }

    /// <summary>The shard file name for a split and index, e.g. ShardFileName("val", 0) = "val_000000.bin".</summary>
    public static string ShardFileName(string split, int index) => $"{split}_{index:D6}.bin";

    public void Append(int token) => Append([token]);

    public void Append(ReadOnlySpan<int> tokens)
    {
        while (!tokens.IsEmpty)
        {
            if (_buffered == _buffer.Length && _buffer.Length < _shardTokens)
                Array.Resize(ref _buffer, (int)Math.Min(_shardTokens, 2L * _buffer.Length));
            int take = Math.Min(tokens.Length, _buffer.Length - _buffered);
            tokens[..take].CopyTo(_buffer.AsSpan(_buffered));
            _buffered += take;
            tokens = tokens[take..];
            if (_buffered == _shardTokens) WriteShard();
        }
    }

    /// <summary>Writes the last, partly filled shard and returns every file written, in order.</summary>
    public IReadOnlyList<string> Finish()
    {
        if (_buffered > 0) WriteShard();
        return _files;
    }

    private void WriteShard()
    {
        string path = Path.Combine(_folder, ShardFileName(_split, _files.Count));
        TokenShard.Write(path, _buffer.AsSpan(0, _buffered), _vocabSize);
        _files.Add(path);
        TokensWritten += _buffered;
        _progress?.Invoke($"wrote {path} ({_buffered:N0} tokens)");
        _buffered = 0;
    }
}
