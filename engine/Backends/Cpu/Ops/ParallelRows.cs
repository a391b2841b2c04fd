namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// Static work splitting for CPU ops. Every item is computed by exactly one thread with a fixed summation order, so
/// results never depend on scheduling (bit-exact resume relies on it).
/// </summary>
public static class ParallelRows
{
    /// <summary>Threads the CPU ops may use; 1 makes every op sequential (useful when debugging).</summary>
    public static int MaxThreads { get; set; } = Environment.ProcessorCount;

    public static void For(int count, Action<int> body)
    {
        if (MaxThreads <= 1 || count < 2) { for (int i = 0; i < count; i++) body(i); return; }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = MaxThreads }, body);
    }

    /// <summary>Calls body(start, end) over [0, count) in fixed chunks: for long elementwise loops.</summary>
    public static void ForChunks(long count, Action<long, long> body, int chunk = 16384)
    {
        int chunks = checked((int)((count + chunk - 1) / chunk));
        For(chunks, k => body((long)k * chunk, Math.Min(count, (long)(k + 1) * chunk)));
    }

    /// <summary>Calls body(start, end) on blocks of at most blockSize items.</summary>
    public static void ForBlocks(int count, int blockSize, Action<int, int> body)
    {
        int blocks = (count + blockSize - 1) / blockSize;
        For(blocks, k => body(k * blockSize, Math.Min(count, (k + 1) * blockSize)));
    }
}
