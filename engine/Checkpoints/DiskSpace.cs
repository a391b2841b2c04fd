namespace Engine.Checkpoints;

/// <summary>
/// The free bytes on the filesystem that holds a folder, and two test seams that stand in for a full disk without
/// root (a real one needs a small tmpfs mount): <see cref="FreeBytesVariable"/> makes the filesystem report that many
/// free bytes, <see cref="FullAfterBytesVariable"/> makes writes fail with "No space left on device" once this process
/// has written that many bytes of checkpoints and metrics. Unit tests set <see cref="Simulated"/> instead: it flows
/// with their own calls only, so tests running beside them write normally.
/// </summary>
public static class DiskSpace
{
    public const string FreeBytesVariable = "ENGINE_TEST_DISK_FREE_BYTES";
    public const string FullAfterBytesVariable = "ENGINE_TEST_DISK_FULL_AFTER_BYTES";

    /// <summary>A simulated disk: the free bytes it reports, and the bytes it accepts before it is full (null: unlimited;
    /// settable, so a test can fill the disk part way through a run).</summary>
    public sealed class Simulation(long? freeBytes = null, long? fullAfterBytes = null)
    {
        public long? FreeBytes { get; set; } = freeBytes;
        public long? FullAfterBytes { get; set; } = fullAfterBytes;
        /// <summary>Bytes charged so far.</summary>
        public long Written { get; private set; }

        /// <summary>Counts bytes about to be written; throws as a full disk does once they pass the limit.</summary>
        internal void Charge(long bytes)
        {
            Written += bytes;
            if (FullAfterBytes is long limit && Written > limit) throw new IOException("No space left on device (simulated)");
        }
    }

    /// <summary>The simulated disk of the calling test (flows through its async context); null = the real one.</summary>
    internal static readonly AsyncLocal<Simulation?> Simulated = new();

    static readonly Lazy<Simulation?> fromEnvironment = new(() =>
    {
        long? Read(string name) => long.TryParse(Environment.GetEnvironmentVariable(name), out long v) && v >= 0 ? v : null;
        long? free = Read(FreeBytesVariable), full = Read(FullAfterBytesVariable);
        return free == null && full == null ? null : new Simulation(free, full);
    });

    static Simulation? Current => Simulated.Value ?? fromEnvironment.Value;

    /// <summary>Bytes free for this user on the filesystem holding <paramref name="folder"/>; null when it cannot be told.</summary>
    public static long? FreeBytes(string folder)
    {
        if (Current?.FreeBytes is long simulated) return simulated;
        try { return new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }

    /// <summary>Called with the size of what was just written (or is about to be): throws "No space left on device" when
    /// a simulated disk is full. Does nothing on the real disk, whose writes fail by themselves.</summary>
    public static void Charge(long bytes) => Current?.Charge(bytes);

    /// <summary>The bytes of every file under a folder (0 when it is gone).</summary>
    public static long SizeOf(string folder) =>
        Directory.Exists(folder) ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) : 0;
}
