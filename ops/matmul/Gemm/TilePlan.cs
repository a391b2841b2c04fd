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
/// Choosing the grid: every task packs the B columns it needs (and the A rows, when A cannot be read in place,
/// else it streams them from memory), so splitting rows repeats B packing and splitting columns repeats the
/// A packing or streaming. For small outputs with a long K
/// (dweight of a 256×256 layer: K = N = 4096) that repetition costs more than the parallelism gains. So the
/// planner evaluates every grid with at most <see cref="TasksPerThread"/>·threads tiles using a simple cost
/// model, in multiply-add units: largest tile's padded work + its packing (≈ NR multiply-adds per
/// packed float), times the number of waves ⌈tasks/threads⌉; among grids within 3 % of the best it takes the most
/// tasks (then the cheapest of those), since spare tasks let a core that runs ahead (shared machine) take over work.
/// </remarks>
internal readonly struct TilePlan
{
    private const int TasksPerThread = 4;
    /// <summary>Below this much work per task (≈ 20–40 µs) the Parallel.For overhead is not worth it.</summary>
    private const long MinFlopsPerTask = 1L << 22;

    public readonly int M, N, MR, NR, RowSplits, ColSplits;

    private TilePlan(int m, int n, int mr, int nr, int rowSplits, int colSplits)
    {
        M = m; N = n; MR = mr; NR = nr; RowSplits = rowSplits; ColSplits = colSplits;
    }

    public int Count => RowSplits * ColSplits;

    /// <param name="aPacked">Whether each task must pack its rows of A (A not readable in place).</param>
    public static TilePlan Create(int m, int n, int k, int mr, int nr, int threads, bool aPacked)
    {
        long flops = 2L * m * n * k;
        int maxTasks = threads <= 1 ? 1 : (int)Math.Min((long)threads * TasksPerThread, Math.Max(1, flops / MinFlopsPerTask));
        int panelsM = (m + mr - 1) / mr, panelsN = (n + nr - 1) / nr;
        if (maxTasks == 1) return new TilePlan(m, n, mr, nr, 1, 1);

        // Pass 0 finds the cheapest grid; pass 1 takes the grid with the most tasks within 3 % of it.
        double bestCost = double.MaxValue, chosenCost = double.MaxValue;
        int bestGm = 1, bestGn = 1;
        for (int pass = 0; pass < 2; pass++)
        {
            double limit = bestCost * 1.03;
            for (int gm = 1; gm <= Math.Min(panelsM, maxTasks); gm++)
                for (int gn = 1; gm * gn <= maxTasks && gn <= panelsN; gn++)
                {
                    double rows = (double)((panelsM + gm - 1) / gm) * mr;
                    double cols = (double)((panelsN + gn - 1) / gn) * nr;
                    // Packing a float takes ≈ 1 cycle (measured), the time of NR multiply-adds: the kernels are two vectors
                    // wide (NR = 2·lanes) and cores retire two vector FMAs per cycle, i.e. NR FMAs per cycle.
                    // An in-place A is not packed but every task streams its rows from L3/DRAM; ≈ ¼ of that cost
                    // (measured: with a column-only split each task re-reads all of A and forward lost 10–30 %
                    // once A had left the cache, as it has in training where backward runs in between).
                    double aCost = aPacked ? nr : nr / 4.0;
                    double perTask = rows * cols * k + (double)nr * k * cols + aCost * k * rows;
                    double cost = (gm * gn + threads - 1) / threads * perTask;
                    int tasks = gm * gn, bestTasks = bestGm * bestGn;
                    if (pass == 0 ? cost < bestCost : cost <= limit && (tasks > bestTasks || tasks == bestTasks && cost < chosenCost))
                    {
                        if (pass == 0) bestCost = cost;
                        chosenCost = cost;
                        bestGm = gm;
                        bestGn = gn;
                    }
                }
        }
        return new TilePlan(m, n, mr, nr, bestGm, bestGn);
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
