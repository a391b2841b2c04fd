using System.Buffers;
using System.Runtime.InteropServices;

namespace Engine.Data;

/// <summary>
/// llm.c's token shard format, so shards prepared here and by llm.c's scripts are interchangeable:
/// a header of 256 little-endian int32 — [0] magic 20240520, [1] version (1: uint16 tokens, 2: uint32 tokens),
/// [2] token count, the rest zero — followed by the tokens, little-endian.
/// </summary>
public static class TokenShard
{
    public const int Magic = 20240520;
    public const int Uint16Version = 1;
    public const int Uint32Version = 2;
    public const int HeaderInts = 256;
    public const int HeaderBytes = HeaderInts * sizeof(int);

    /// <summary>Largest vocabulary whose ids all fit in uint16 (ids 0..65535).</summary>
    public const int Uint16VocabularyLimit = 65_536;

    // Reading and writing in chunks bounds the extra memory to a few MB whatever the shard's size.
    private const int ChunkTokens = 1 << 20;

    /// <summary>The version a shard for this vocabulary gets: the narrowest type that holds every id.</summary>
    public static int VersionFor(int vocabSize) =>
        vocabSize <= Uint16VocabularyLimit ? Uint16Version : Uint32Version;

    /// <summary>
    /// Writes <paramref name="tokens"/> to <paramref name="path"/> atomically: the bytes go to <c>path + ".tmp"</c>,
    /// which is renamed over <paramref name="path"/> only once complete and flushed. An error therefore never leaves a
    /// half-written shard, and an existing file at <paramref name="path"/> stays as it was.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        EnsureLittleEndianHost();

        // Checked before touching the disk: an id that does not fit would be silently truncated to uint16.
        int bad = tokens.IndexOfAnyExceptInRange(0, vocabSize - 1);
        if (bad >= 0)
            throw new DataFormatException(
                $"tokens file {path}: token id {tokens[bad]} at position {bad} is outside the vocabulary 0..{vocabSize - 1}: " +
                "the tokenizer and the vocabulary size passed to the writer disagree");

        int version = VersionFor(vocabSize);
        string temporaryPath = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temporaryPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                WriteHeader(stream, version, tokens.Length);
                if (version == Uint16Version) WriteUint16Body(stream, tokens);
                else stream.Write(MemoryMarshal.AsBytes(tokens));
                // Flushed to the device before the rename, so a crash cannot leave a renamed but empty file.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporaryPath, path, overwrite: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            TryDeleteFile(temporaryPath);
            throw new DataException(
                $"tokens file {path}: cannot write it ({error.Message}); any existing file there is unchanged. " +
                "Check that the folder exists, is writable and has free space.", error);
        }
    }

    /// <summary>Reads and validates a whole shard into memory.</summary>
    public static int[] Read(string path)
    {
        EnsureLittleEndianHost();
        using FileStream stream = OpenForReading(path);
        TokenShardHeader header = ReadHeader(stream, path);
        if (header.TokenCount > Array.MaxLength)
            throw new DataFormatException(
                $"tokens file {path}: {header.TokenCount} tokens do not fit in one array; read it with TokenShardReader (memory-mapped) " +
                "or prepare the data with smaller shards");

        var tokens = new int[header.TokenCount];
        ReadBody(stream, header, tokens);
        return tokens;
    }

    /// <summary>Reads the body that follows an already read header into <paramref name="tokens"/> (exactly TokenCount long).</summary>
    internal static void ReadBody(FileStream stream, TokenShardHeader header, Span<int> tokens)
    {
        if (tokens.Length != header.TokenCount) throw new ArgumentException("destination length must equal the shard's token count", nameof(tokens));
        if (header.Version == Uint16Version) ReadUint16Body(stream, tokens);
        else stream.ReadExactly(MemoryMarshal.AsBytes(tokens));
    }

    /// <summary>Reads and validates a shard's header only (cheap: 1 KiB), e.g. to count tokens before loading.</summary>
    public static TokenShardHeader ReadHeader(string path)
    {
        using FileStream stream = OpenForReading(path);
        return ReadHeader(stream, path);
    }

    internal static TokenShardHeader ReadHeader(FileStream stream, string path)
    {
        long fileBytes = stream.Length;
        if (fileBytes < HeaderBytes)
            throw new DataFormatException(
                $"tokens file {path}: {fileBytes} bytes, shorter than the {HeaderBytes}-byte header: the file is not a token shard " +
                "or is truncated; run `trainer prepare` again");

        Span<int> header = stackalloc int[HeaderInts];
        stream.ReadExactly(MemoryMarshal.AsBytes(header));

        int magic = header[0], version = header[1], count = header[2];
        if (magic != Magic)
            throw new DataFormatException(
                $"tokens file {path}: header magic 0x{magic:X} is not a token shard (expected {Magic})");
        if (version != Uint16Version && version != Uint32Version)
            throw new DataFormatException(
                $"tokens file {path}: header version {version} is not supported (expected {Uint16Version} for uint16 tokens " +
                $"or {Uint32Version} for uint32 tokens); prepare the data again with `trainer prepare`");
        if (count < 0)
            throw new DataFormatException(
                $"tokens file {path}: header says {count} tokens: the header is damaged; run `trainer prepare` again");

        var result = new TokenShardHeader(version, count);
        long bodyBytes = fileBytes - HeaderBytes;
        if (bodyBytes < result.BodyBytes)
            throw new DataFormatException(
                $"tokens file {path}: header says {count} tokens ({result.BodyBytes} bytes) but the body holds {bodyBytes} bytes: " +
                "the file is truncated; run `trainer prepare` again");
        if (bodyBytes > result.BodyBytes)
            throw new DataFormatException(
                $"tokens file {path}: header says {count} tokens ({result.BodyBytes} bytes) but the body holds {bodyBytes} bytes: " +
                "the header and the body disagree; run `trainer prepare` again");
        return result;
    }

    internal static FileStream OpenForReading(string path)
    {
        if (Directory.Exists(path))
            throw new DataFormatException($"tokens file {path}: is a folder, not a token shard");
        if (!File.Exists(path))
            throw new DataFormatException($"tokens file {path}: not found");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"tokens file {path}: cannot open it for reading ({error.Message})", error);
        }
    }

    internal static void EnsureLittleEndianHost()
    {
        // The format is little-endian and the body is read by reinterpreting bytes; a big-endian host would need swaps.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("token shards are little-endian; this machine is big-endian");
    }

    private static void WriteHeader(Stream stream, int version, int tokenCount)
    {
        Span<int> header = stackalloc int[HeaderInts];
        header.Clear();
        header[0] = Magic;
        header[1] = version;
        header[2] = tokenCount;
        stream.Write(MemoryMarshal.AsBytes(header));
    }

    private static void WriteUint16Body(Stream stream, ReadOnlySpan<int> tokens)
    {
        ushort[] chunk = ArrayPool<ushort>.Shared.Rent(Math.Min(ChunkTokens, Math.Max(tokens.Length, 1)));
        try
        {
            for (int start = 0; start < tokens.Length; start += chunk.Length)
            {
                int length = Math.Min(chunk.Length, tokens.Length - start);
                ReadOnlySpan<int> source = tokens.Slice(start, length);
                for (int i = 0; i < source.Length; i++) chunk[i] = (ushort)source[i];
                stream.Write(MemoryMarshal.AsBytes(chunk.AsSpan(0, length)));
            }
        }
        finally { ArrayPool<ushort>.Shared.Return(chunk); }
    }

    private static void ReadUint16Body(Stream stream, Span<int> tokens)
    {
        ushort[] chunk = ArrayPool<ushort>.Shared.Rent(Math.Min(ChunkTokens, Math.Max(tokens.Length, 1)));
        try
        {
            for (int start = 0; start < tokens.Length; start += chunk.Length)
            {
                int length = Math.Min(chunk.Length, tokens.Length - start);
                stream.ReadExactly(MemoryMarshal.AsBytes(chunk.AsSpan(0, length)));
                Span<int> destination = tokens.Slice(start, length);
                for (int i = 0; i < destination.Length; i++) destination[i] = chunk[i];
            }
        }
        finally { ArrayPool<ushort>.Shared.Return(chunk); }
    }

    private static void TryDeleteFile(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException) { /* the original error matters more */ }
    }
}
