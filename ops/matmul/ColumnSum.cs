using System.Numerics;
using System.Runtime.CompilerServices;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>dbias[j] += Σ_n dout[n, j] for a row-major [rows × cols] matrix.</summary>
/// <remarks>
/// Same two-level order as the GEMM (see Gemm.GemmDriver): a fresh partial sum per block of KC rows (ascending),
/// each added into dbias in block order. Threads split the columns statically; a column's sum never depends on
/// another thread, so the result is bit-identical for any thread count. Vector lanes are independent columns,
/// so vector width does not change results either.
/// </remarks>
internal static unsafe class ColumnSum
{
    /// <summary>Columns per task chunk: 2 KiB of partial sums (fits L1 alongside the streamed rows).</summary>
    private const int ChunkCols = 512;

    public static void AccumulateInto(float* dst, float* src, int rows, int cols, int threads)
    {
        if (rows <= 0 || cols <= 0) return;
        int chunks = (cols + ChunkCols - 1) / ChunkCols;
        long work = (long)rows * cols;
        if (threads <= 1 || chunks == 1 || work < (1 << 18))
        {
            for (int ch = 0; ch < chunks; ch++) Chunk(dst, src, rows, cols, ch);
            return;
        }
        nint d = (nint)dst, s = (nint)src;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            ch => Chunk((float*)d, (float*)s, rows, cols, ch));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Chunk(float* dst, float* src, int rows, int cols, int chunk)
    {
        int j0 = chunk * ChunkCols;
        int w = Math.Min(ChunkCols, cols - j0);
        float* partial = stackalloc float[ChunkCols];
        int vec = Vector<float>.Count;
        for (int r0 = 0; r0 < rows; r0 += Gemm.GemmDriver.KC)
        {
            int r1 = Math.Min(rows, r0 + Gemm.GemmDriver.KC);
            new Span<float>(partial, w).Clear();
            for (int r = r0; r < r1; r++)
            {
                float* row = src + (nint)r * cols + j0;
                int j = 0;
                for (; j <= w - vec; j += vec)
                    Vector.Store(Vector.Load(partial + j) + Vector.Load(row + j), partial + j);
                for (; j < w; j++) partial[j] += row[j];
            }
            float* d = dst + j0;
            for (int j = 0; j < w; j++) d[j] += partial[j];
        }
    }
}
