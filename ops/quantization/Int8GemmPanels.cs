using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// The fast int8 products behind <see cref="Int8Matmul"/>. b is packed once per call into panels of 16 output columns
/// whose steps hold, for each column, the next 4 (VNNI) or 2 (AVX2) k in a row: one 256-bit load then feeds 8 columns,
/// and one broadcast of a's 4 (or 2) k feeds them all, so the 6×16 register tile accumulates outputs directly with no
/// horizontal sums. K is zero-padded to the step, M to the panel; the padding adds 0·x = 0, so the sums stay exact.
/// Rows go in blocks of 48 to the threads (each output is one thread's: no order to depend on), a block's a rows
/// packed by its thread, every panel passing over the block's 8 register tiles while it is in L1.
/// </summary>
static unsafe class Int8GemmPanels
{
    const int MR = 6, NR = 16, RowBlock = 8 * MR;

    /// <summary>Below this many multiply-adds one thread does it all (the threads cost more than they save).</summary>
    const long ParallelWork = 1L << 21;

    public static void MultiplyVnni(int* output, sbyte* a, sbyte* b, int N, int K, int M)
    {
        int steps = (K + 3) / 4, panels = (M + NR - 1) / NR;
        byte* packed = (byte*)NativeMemory.AlignedAlloc((nuint)((long)panels * steps * NR * 4 + 64), 64);
        int* sums = (int*)NativeMemory.AlignedAlloc((nuint)(panels * NR * sizeof(int)), 64);
        try
        {
            // Panel p, step s, column c, byte j holds b[16p + c, 4s + j]; sums[m] = Σ_k b[m,k] for the u8 correction.
            For(panels, (long)N * K * M, p =>
            {
                byte* panel = packed + (long)p * steps * NR * 4;
                for (int c = 0; c < NR; c++)
                {
                    int m = p * NR + c;
                    sbyte* row = b + (long)m * K;
                    int real = m < M ? K : 0, whole = real / 4; // a padding column is all zeros
                    for (int st = 0; st < whole; st++) *(int*)(panel + (long)st * NR * 4 + c * 4) = *(int*)(row + 4 * st);
                    for (int k = whole * 4; k < steps * 4; k++) panel[(long)(k >> 2) * NR * 4 + c * 4 + (k & 3)] = k < real ? (byte)row[k] : (byte)0;
                }
                // The column sums by the same instruction: Σ 1·b over each column's 4-byte groups.
                var ones = Vector256.Create((byte)1);
                Vector256<int> low = default, high = default;
                for (int st = 0; st < steps; st++)
                {
                    low = AvxVnni.MultiplyWideningAndAdd(low, ones, Vector256.Load((sbyte*)panel + (long)st * NR * 4));
                    high = AvxVnni.MultiplyWideningAndAdd(high, ones, Vector256.Load((sbyte*)panel + (long)st * NR * 4 + 32));
                }
                low.Store(sums + p * NR);
                high.Store(sums + p * NR + 8);
            });
            RowBlocks(N, (long)N * K * M, steps * 4, (rows, count, buffer) =>
            {
                byte* aPacked = (byte*)buffer;
                // a + 128 as u8: the xor flips the sign bit (two's complement). Padding k: 0 (b's padding is 0 there).
                int ld = steps * 4;
                var flip = Vector256.Create((byte)0x80);
                for (int r = 0; r < count; r++)
                {
                    byte* src = (byte*)(a + (long)(rows + r) * K);
                    byte* dst = aPacked + (long)r * ld;
                    int k = 0;
                    for (; k + 32 <= K; k += 32) (Vector256.Load(src + k) ^ flip).Store(dst + k);
                    for (; k < ld; k++) dst[k] = k < K ? (byte)(src[k] ^ 0x80) : (byte)0;
                }
                for (int p = 0; p < panels; p++)
                {
                    int cols = Math.Min(NR, M - p * NR);
                    for (int r = 0; r < count; r += MR)
                        TileVnni(output + (long)(rows + r) * M + p * NR, M, aPacked + (long)r * ld, ld, Math.Min(MR, count - r),
                            packed + (long)p * steps * NR * 4, steps, sums + p * NR, cols);
                }
            });
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
            NativeMemory.AlignedFree(sums);
        }
    }

    /// <summary>Up to 6 rows × 16 columns: Σ (a+128)·b by vpdpbusd (4 products a lane, no saturation), then − 128·Σb.
    /// Missing rows repeat the first one (computed, not stored), so the loop has one shape.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TileVnni(int* output, int ldo, byte* a, int lda, int rows, byte* b, int steps, int* sums, int cols)
    {
        // The tile goes through this stack buffer, and nothing is called while the accumulators are live: a value live
        // across a call is spilled by the JIT at every definition, i.e. 12 stores in the inner loop.
        int* tile = stackalloc int[MR * NR];
        byte* a0 = a, a1 = rows > 1 ? a + lda : a, a2 = rows > 2 ? a + 2 * lda : a;
        byte* a3 = rows > 3 ? a + 3 * lda : a, a4 = rows > 4 ? a + 4 * lda : a, a5 = rows > 5 ? a + 5 * lda : a;
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        byte* end = b + (long)steps * NR * 4;
        for (nint k = 0; b < end; k += 4, b += NR * 4)
        {
            var b0 = Vector256.Load((sbyte*)b);
            var b1 = Vector256.Load((sbyte*)b + 32);
            var x = Vector256.Create(*(int*)(a0 + k)).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, b1);
            x = Vector256.Create(*(int*)(a1 + k)).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, b1);
            x = Vector256.Create(*(int*)(a2 + k)).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, b1);
            x = Vector256.Create(*(int*)(a3 + k)).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, b1);
            x = Vector256.Create(*(int*)(a4 + k)).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, b0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, b1);
            x = Vector256.Create(*(int*)(a5 + k)).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, b0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, b1);
        }
        var s0 = Vector256.Load(sums) << 7;
        var s1 = Vector256.Load(sums + 8) << 7;
        (c00 - s0).Store(tile); (c01 - s1).Store(tile + 8); (c10 - s0).Store(tile + 16); (c11 - s1).Store(tile + 24);
        (c20 - s0).Store(tile + 32); (c21 - s1).Store(tile + 40); (c30 - s0).Store(tile + 48); (c31 - s1).Store(tile + 56);
        (c40 - s0).Store(tile + 64); (c41 - s1).Store(tile + 72); (c50 - s0).Store(tile + 80); (c51 - s1).Store(tile + 88);
        CopyOut(output, ldo, tile, rows, cols);
    }

    public static void MultiplyAvx2(int* output, sbyte* a, sbyte* b, int N, int K, int M)
    {
        int steps = (K + 1) / 2, panels = (M + NR - 1) / NR;
        short* packed = (short*)NativeMemory.AlignedAlloc((nuint)((long)panels * steps * NR * 2 * sizeof(short) + 64), 64);
        try
        {
            // Panel p, step s, column c, half j holds b[16p + c, 2s + j] widened to int16.
            For(panels, (long)N * K * M, p =>
            {
                short* panel = packed + (long)p * steps * NR * 2;
                for (int c = 0; c < NR; c++)
                {
                    int m = p * NR + c;
                    sbyte* row = b + (long)m * K;
                    int real = m < M ? K : 0, whole = real / 2; // a padding column is all zeros
                    for (int st = 0; st < whole; st++)
                    {
                        short* pair = panel + (long)st * NR * 2 + c * 2;
                        pair[0] = row[2 * st];
                        pair[1] = row[2 * st + 1];
                    }
                    for (int k = whole * 2; k < steps * 2; k++) panel[(long)(k >> 1) * NR * 2 + c * 2 + (k & 1)] = k < real ? row[k] : (short)0;
                }
            });
            RowBlocks(N, (long)N * K * M, steps * 2 * sizeof(short), (rows, count, buffer) =>
            {
                short* aPacked = (short*)buffer;
                int ld = steps * 2;
                for (int r = 0; r < count; r++)
                {
                    sbyte* src = a + (long)(rows + r) * K;
                    short* dst = aPacked + (long)r * ld;
                    int k = 0;
                    for (; k + 16 <= K; k += 16) Avx2.ConvertToVector256Int16(src + k).Store(dst + k); // vpmovsxbw
                    for (; k < ld; k++) dst[k] = k < K ? src[k] : (short)0;
                }
                for (int p = 0; p < panels; p++)
                {
                    int cols = Math.Min(NR, M - p * NR);
                    for (int r = 0; r < count; r += MR)
                        TileAvx2(output + (long)(rows + r) * M + p * NR, M, aPacked + (long)r * ld, ld, Math.Min(MR, count - r),
                            packed + (long)p * steps * NR * 2, steps, cols);
                }
            });
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
        }
    }

    /// <summary>Up to 6 rows × 16 columns: vpmaddwd of a's broadcast k pair against 8 columns' pairs, added in int32
    /// (through a stack buffer, as <see cref="TileVnni"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TileAvx2(int* output, int ldo, short* a, int lda, int rows, short* b, int steps, int cols)
    {
        int* tile = stackalloc int[MR * NR];
        short* a0 = a, a1 = rows > 1 ? a + lda : a, a2 = rows > 2 ? a + 2 * lda : a;
        short* a3 = rows > 3 ? a + 3 * lda : a, a4 = rows > 4 ? a + 4 * lda : a, a5 = rows > 5 ? a + 5 * lda : a;
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        short* end = b + (long)steps * NR * 2;
        for (nint k = 0; b < end; k += 2, b += NR * 2)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 16);
            var x = Vector256.Create(*(int*)(a0 + k)).AsInt16();
            c00 += Avx2.MultiplyAddAdjacent(x, b0); c01 += Avx2.MultiplyAddAdjacent(x, b1);
            x = Vector256.Create(*(int*)(a1 + k)).AsInt16();
            c10 += Avx2.MultiplyAddAdjacent(x, b0); c11 += Avx2.MultiplyAddAdjacent(x, b1);
            x = Vector256.Create(*(int*)(a2 + k)).AsInt16();
            c20 += Avx2.MultiplyAddAdjacent(x, b0); c21 += Avx2.MultiplyAddAdjacent(x, b1);
            x = Vector256.Create(*(int*)(a3 + k)).AsInt16();
            c30 += Avx2.MultiplyAddAdjacent(x, b0); c31 += Avx2.MultiplyAddAdjacent(x, b1);
            x = Vector256.Create(*(int*)(a4 + k)).AsInt16();
            c40 += Avx2.MultiplyAddAdjacent(x, b0); c41 += Avx2.MultiplyAddAdjacent(x, b1);
            x = Vector256.Create(*(int*)(a5 + k)).AsInt16();
            c50 += Avx2.MultiplyAddAdjacent(x, b0); c51 += Avx2.MultiplyAddAdjacent(x, b1);
        }
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40); c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
        CopyOut(output, ldo, tile, rows, cols);
    }

    /// <summary>The tile's first <paramref name="rows"/> rows and <paramref name="cols"/> columns into the output.</summary>
    static void CopyOut(int* output, int ldo, int* tile, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            int* src = tile + r * NR, dst = output + (long)r * ldo;
            if (cols == NR)
            {
                Vector256.Load(src).Store(dst);
                Vector256.Load(src + 8).Store(dst + 8);
            }
            else for (int c = 0; c < cols; c++) dst[c] = src[c];
        }
    }

    /// <summary>body(i) for i in [0, count), in parallel only when the work pays for the threads.</summary>
    static void For(int count, long work, Action<int> body)
    {
        if (work < ParallelWork) { for (int i = 0; i < count; i++) body(i); return; }
        ParallelRows.For(count, body);
    }

    /// <summary>body(first row, rows, scratch) over blocks of 48 rows; scratch holds 48 rows of
    /// <paramref name="rowBytes"/> for the block's packed a (one buffer per block: blocks may run at once).</summary>
    static void RowBlocks(int N, long work, int rowBytes, Action<int, int, nint> body)
    {
        int blocks = (N + RowBlock - 1) / RowBlock;
        For(blocks, work, block =>
        {
            int first = block * RowBlock, count = Math.Min(RowBlock, N - first);
            byte* scratch = (byte*)NativeMemory.AlignedAlloc((nuint)((long)count * rowBytes + 64), 64);
            try { body(first, count, (nint)scratch); }
            finally { NativeMemory.AlignedFree(scratch); }
        });
    }
}
