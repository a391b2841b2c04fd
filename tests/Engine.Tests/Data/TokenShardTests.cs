using System.Runtime.InteropServices;
using Engine.Data;

namespace Engine.Tests.Data;

public class TokenShardTests
{
    [Fact]
    public void SmallVocabularyRoundTripsAsUint16Version1()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        int[] tokens = [0, 1, 50256, 65535, 7, 65535];

        TokenShard.Write(path, tokens, vocabSize: 65_536);

        Assert.Equal(new TokenShardHeader(1, tokens.Length), TokenShard.ReadHeader(path));
        Assert.Equal(TokenShard.HeaderBytes + 2 * tokens.Length, new FileInfo(path).Length);
        Assert.Equal(tokens, TokenShard.Read(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void LargeVocabularyRoundTripsAsUint32Version2()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        int[] tokens = [0, 65_536, 99_999, 70_000, 3];

        TokenShard.Write(path, tokens, vocabSize: 100_000);

        Assert.Equal(new TokenShardHeader(2, tokens.Length), TokenShard.ReadHeader(path));
        Assert.Equal(TokenShard.HeaderBytes + 4 * tokens.Length, new FileInfo(path).Length);
        Assert.Equal(tokens, TokenShard.Read(path));
    }

    [Fact]
    public void HeaderIsLlmCsLayout()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("x.bin");
        TokenShard.Write(path, [5, 6, 7], vocabSize: 50_257);

        int[] header = MemoryMarshal.Cast<byte, int>(File.ReadAllBytes(path).AsSpan(0, 1024)).ToArray();
        Assert.Equal(20240520, header[0]);
        Assert.Equal(1, header[1]);
        Assert.Equal(3, header[2]);
        Assert.All(header[3..], value => Assert.Equal(0, value));
    }

    [Fact]
    public void LargeShardRoundTripsAcrossChunkBoundaries()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("big.bin");
        int[] tokens = Enumerable.Range(0, 3_000_001).Select(i => (int)(i * 7919L % 50_257)).ToArray();

        TokenShard.Write(path, tokens, 50_257);

        Assert.Equal(tokens, TokenShard.Read(path));
    }

    [Fact]
    public void EmptyShardRoundTrips()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("empty.bin");
        TokenShard.Write(path, [], 257);
        Assert.Empty(TokenShard.Read(path));
    }

    [Fact]
    public void WrongMagicIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, [1, 2, 3], 257);
        PatchHeader(path, index: 0, value: 0x1234);

        var error = Assert.Throws<DataFormatException>(() => TokenShard.Read(path));
        Assert.Equal($"tokens file {path}: header magic 0x1234 is not a token shard (expected 20240520)", error.Message);
    }

    [Fact]
    public void TruncatedBodyIsNamedWithTheFix()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, new int[1000], 257);
        using (var stream = new FileStream(path, FileMode.Open)) stream.SetLength(1024 + 1500);

        var error = Assert.Throws<DataFormatException>(() => TokenShard.Read(path));
        Assert.Equal(
            $"tokens file {path}: header says 1000 tokens (2000 bytes) but the body holds 1500 bytes: the file is truncated; run `trainer prepare` again",
            error.Message);
    }

    [Fact]
    public void FileShorterThanHeaderIsRejected()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("tiny.bin");
        File.WriteAllBytes(path, new byte[10]);

        var error = Assert.Throws<DataFormatException>(() => TokenShard.ReadHeader(path));
        Assert.Contains("shorter than the 1024-byte header", error.Message);
        Assert.StartsWith($"tokens file {path}:", error.Message);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("long.bin");
        TokenShard.Write(path, [1, 2], 257);
        File.AppendAllText(path, "xx");

        var error = Assert.Throws<DataFormatException>(() => TokenShard.Read(path));
        Assert.Contains("header says 2 tokens (4 bytes) but the body holds 6 bytes", error.Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("nope.bin");

        var error = Assert.Throws<DataFormatException>(() => TokenShard.Read(path));
        Assert.Equal($"tokens file {path}: not found", error.Message);
    }

    [Fact]
    public void UnsupportedVersionIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, [1, 2, 3], 257);
        PatchHeader(path, index: 1, value: 3);

        var error = Assert.Throws<DataFormatException>(() => TokenShard.Read(path));
        Assert.StartsWith($"tokens file {path}: header version 3 is not supported", error.Message);
        Assert.Contains("trainer prepare", error.Message);
    }

    [Fact]
    public void ReadErrorsLeaveTheFileUntouched()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, new int[100], 257);
        PatchHeader(path, index: 0, value: 42);
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<DataFormatException>(() => TokenShard.Read(path));
        Assert.Throws<DataFormatException>(() => new TokenShardReader(path));

        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void TokenOutsideVocabularyIsRefusedBeforeTouchingAnExistingShard()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, [1, 2, 3], 257);
        byte[] before = File.ReadAllBytes(path);

        var error = Assert.Throws<DataFormatException>(() => TokenShard.Write(path, [1, 300, 2], 257));

        Assert.Contains("token id 300 at position 1", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void FailedWriteLeavesTheExistingShardIntactAndNoTemporaryFile()
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        TokenShard.Write(path, [1, 2, 3], 257);
        byte[] before = File.ReadAllBytes(path);
        // A folder where the temporary file must go makes the write fail whoever runs the test (even root).
        Directory.CreateDirectory(path + ".tmp");

        var error = Assert.Throws<DataException>(() => TokenShard.Write(path, [4, 5, 6, 7], 257));

        Assert.StartsWith($"tokens file {path}: cannot write it", error.Message);
        Assert.Contains("unchanged", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([1, 2, 3], TokenShard.Read(path));
    }

    [Fact]
    public void WritingOverAShardInAReadOnlyFolderFailsCleanly()
    {
        using var temp = new TempFolder();
        string folder = temp.Combine("readonly");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "train.bin");
        TokenShard.Write(path, [1, 2, 3], 257);
        byte[] before = File.ReadAllBytes(path);
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("this test uses POSIX folder permissions");
            return;
        }
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        if (Environment.IsPrivilegedProcess)
            Assert.Skip("running as root, which ignores folder permissions; FailedWriteLeavesTheExistingShardIntactAndNoTemporaryFile covers the failure path");

        var error = Assert.Throws<DataException>(() => TokenShard.Write(path, [4, 5, 6], 257));

        Assert.StartsWith($"tokens file {path}: cannot write it", error.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Theory]
    [InlineData(257)]
    [InlineData(100_000)]
    public void MemoryMappedReaderSeesTheSameTokens(int vocabSize)
    {
        using var temp = new TempFolder();
        string path = temp.Combine("train.bin");
        int[] tokens = Enumerable.Range(0, 1000).Select(i => i * 31 % vocabSize).ToArray();
        TokenShard.Write(path, tokens, vocabSize);

        using var reader = new TokenShardReader(path);

        Assert.Equal(tokens.Length, reader.Count);
        Assert.Equal(TokenShard.VersionFor(vocabSize), reader.Header.Version);
        Assert.Equal(tokens[999], reader[999]);
        var slice = new int[100];
        reader.CopyTo(450, slice);
        Assert.Equal(tokens[450..550], slice);
    }

    private static void PatchHeader(string path, int index, int value)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = index * sizeof(int);
        stream.Write(BitConverter.GetBytes(value));
    }
}
