namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Static split of the output C[M×N] into a RowSplits × ColSplits grid of rectangular tiles, one parallel task
/// each. Tile edges fall on multiples of the micro-kernel's MR/NR so only the matrix edge has partial tiles.
/// </summary>
/// <remarks>
/// Why this is deterministic: a task owns its output elements outright and runs the whole K loop for them;
/// nothing is ever reduced across tasks. The per-element summation order is fixed by the K blocking alone
/// (see <see cref="GemmDriver"/>), so the choice of grid, the thread count and which thread runs which task
/// cannot change a single bit of the result. The grid is therefore free to depend on the thread count.
///
/// Splitting columns costs nothing extra when A is read in place (its rows are shared, read-only) and only
/// re-packs the task's own B columns; splitting rows re-packs B once per row tile. So the planner splits
/// along the cheaper dimension first, but keeps tiles from becoming too thin to amortise packing.
/// </remarks>
internal readonly struct TilePlan
{
    /// <summary>Tasks per thread: a few, so a core slowed by other work on a shared machine gets help.</summary>
    private const int TasksPerThread = 4;
    /// <summary>Below this much work per task (≈ 20–40 µs) the Parallel.For overhead is not worth it.</summary>
    private const long MinFlopsPerTask = 1L << 22;
    private const int MinTileCols = 128;
    private const int MinTileRows = 96;

    public readonly int M, N, MR, NR, RowSplits, ColSplits;

    private TilePlan(int m, int n, int mr, int nr, int rowSplits, int colSplits)
    {
        M = m; N = n; MR = mr; NR = nr; RowSplits = rowSplits; ColSplits = colSplits;
    }

    public int Count => RowSplits * ColSplits;

    public static TilePlan Create(int m, int n, int k, int mr, int nr, int threads, bool preferColumnSplit)
    {
        long flops = 2L * m * n * k;
        int tasks = threads <= 1 ? 1 : (int)Math.Min((long)threads * TasksPerThread, Math.Max(1, flops / MinFlopsPerTask));
        if (tasks > threads) tasks -= tasks % threads; // equal shares per thread when there are enough tasks

        int panelsM = (m + mr - 1) / mr, panelsN = (n + nr - 1) / nr;
        int gm, gn;
        if (preferColumnSplit)
        {
            gn = Math.Clamp(Math.Min(tasks, n / MinTileCols), 1, panelsN);
            gm = Math.Clamp(tasks / gn, 1, panelsM);
            if (gm * gn < tasks) gn = Math.Clamp(tasks / gm, 1, panelsN);
        }
        else
        {
            gm = Math.Clamp(Math.Min(tasks, m / MinTileRows), 1, panelsM);
            gn = Math.Clamp(tasks / gm, 1, panelsN);
            if (gm * gn < tasks) gm = Math.Clamp(tasks / gn, 1, panelsM);
        }
        return new TilePlan(m, n, mr, nr, gm, gn);
    }

    /// <summary>Bounds of task <paramref name="t"/>: rows [m0, m1), columns [n0, n1).</summary>
    public void GetTile(int t, out int m0, out int m1, out int n0, out int n1)
    {
        int tm = t / ColSplits, tn = t % ColSplits;
        Split(M, MR, RowSplits, tm, out m0, out m1);
        Split(N, NR, ColSplits, tn, out n0, out n1);
    }

    private static void Split(int extent, int unit, int parts, int index, out int lo, out int hi)
    {
        int panels = (extent + unit - 1) / unit;
        lo = Math.Min(extent, (int)((long)panels * index / parts) * unit);
        hi = Math.Min(extent, (int)((long)panels * (index + 1) / parts) * unit);
    }
}
