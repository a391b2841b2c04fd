using System.Runtime.CompilerServices;

namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Blocked, packed, multi-threaded float32 GEMM: C[M×N] (= or +=) A[M×K] · B[K×N], with A and B given as
/// <see cref="StridedMatrix"/> views so transposed operands need no extra code.
/// </summary>
/// <remarks>
/// Loop nest inside each output tile (BLIS-style; "panel" = packed B block, "sliver" = MR rows / NR columns):
/// <code>
/// for jc in tile columns step NC          // B panel KC×NC stays in L2/L3 for the whole row sweep
///   for pc in 0..K step KC                // K-slices, ALWAYS ascending: this fixes the summation order
///     pack B[pc.., jc..] → KC×NC panel (NR-wide slivers, zero-padded)
///     for ic in tile rows step MC         // A block MC×KC stays in L2
///       A slivers: read in place when A's rows are contiguous in k, else packed (MR-tall, zero-padded)
///       for jr step NR: for ir step MR:   // B sliver (KC×NR) stays in L1 across the ir loop
///         micro-kernel: fresh accumulators, kc FMAs, then C = acc (+bias) on the first slice, else C += acc
/// </code>
/// Numerics: every C element is <c>init ⊕ s₀ ⊕ s₁ ⊕ …</c> where sₚ is a fused-multiply-add chain over the
/// p-th KC-slice of k (ascending, starting from 0) and init is bias/0 (overwrite) or the old C (accumulate).
/// That sequence depends only on K and the constant <see cref="KC"/> - not on tiling, thread count or ISA -
/// hence bit-identical results everywhere. The two-level sum (chains of ≤ 256 terms, then ≤ K/256 partials)
/// also keeps float32 rounding error well below that of one long chain.
/// <para>Parallelism: the output is cut into a grid of tiles (<see cref="TilePlan"/>), one Parallel.For task
/// each; a task runs the loop nest above for its tile alone, with its own packing buffers
/// (<see cref="ScratchArena"/>), so tasks share nothing writable and need no synchronisation.</para>
/// </remarks>
internal static unsafe class GemmDriver
{
    /// <summary>
    /// K-slice length. Part of the numerical contract (it decides where partial sums are rounded into C), so
    /// it is the same for every ISA. 256 keeps a B sliver (256×NR floats: 16 KiB for NR=16, 32 KiB for NR=32)
    /// inside L1.
    /// </summary>
    public const int KC = 256;

    private readonly struct Problem
    {
        public required int M { get; init; }
        public required int N { get; init; }
        public required int K { get; init; }
        public required StridedMatrix A { get; init; }
        public required StridedMatrix B { get; init; }
        public required nint C { get; init; } // float*, kept as nint so the struct can be captured by a lambda
        public required nint Ldc { get; init; }
        public required bool Overwrite { get; init; }
        public required nint Bias { get; init; } // float* or 0
    }

    /// <param name="overwrite">true: C = A·B + bias (bias per column, may be null). false: C += A·B (bias ignored).</param>
    public static void Run<TK>(int m, int n, int k, StridedMatrix a, StridedMatrix b, float* c, nint ldc,
        bool overwrite, float* bias, int threads) where TK : struct, IMicroKernel
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (overwrite) FillBias(m, n, c, ldc, bias);
            return;
        }

        var p = new Problem
        {
            M = m, N = n, K = k, A = a, B = b, C = (nint)c, Ldc = ldc,
            Overwrite = overwrite, Bias = overwrite ? (nint)bias : 0,
        };
        // A is read in place when its rows are contiguous in k (forward: input, dinput: dout).
        var plan = TilePlan.Create(m, n, k, TK.MR, TK.NR, threads, aPacked: a.ColStride != 1);
        if (plan.Count == 1)
        {
            RunTile<TK>(in p, 0, m, 0, n);
            return;
        }
        Parallel.For(0, plan.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            plan.GetTile(t, out int m0, out int m1, out int n0, out int n1);
            RunTile<TK>(in p, m0, m1, n0, n1);
        });
    }

    // AggressiveOptimization: skip tier-0 so even the first calls (and short benchmarks) run the optimised loop nest.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTile<TK>(in Problem p, int m0, int m1, int n0, int n1) where TK : struct, IMicroKernel
    {
        int MR = TK.MR, NR = TK.NR, MC = TK.MC, NC = TK.NC;
        var arena = ScratchArena.Current;
        float* bPanel = arena.B((nint)KC * NC);
        float* aBlock = arena.A((nint)(MC + MR) * KC);
        float* cBase = (float*)p.C;
        float* biasBase = (float*)p.Bias;
        StridedMatrix A = p.A;
        bool aInPlace = A.ColStride == 1;

        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                Packing.PackB<TK>(p.B, pc, kc, jc, nc, bPanel);
                bool first = p.Overwrite && pc == 0;

                for (int ic = m0; ic < m1; ic += MC)
                {
                    int mc = Math.Min(MC, m1 - ic);
                    // Slivers [0, inPlaceRows) are read straight from A; the rest come from aBlock.
                    int inPlaceRows = aInPlace ? mc / MR * MR : 0;
                    if (inPlaceRows < mc)
                        Packing.PackA<TK>(A, ic + inPlaceRows, mc - inPlaceRows, pc, kc, aBlock);

                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        float* bSliver = bPanel + (nint)jr * kc;
                        float* cCol = cBase + (nint)ic * p.Ldc + jc + jr;
                        float* bias = first && biasBase != null ? biasBase + jc + jr : null;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int mr = Math.Min(MR, mc - ir);
                            float* cTile = cCol + ir * p.Ldc;
                            if (ir < inPlaceRows)
                                TK.Run(kc, A.At(ic + ir, pc), A.RowStride, 1, bSliver, cTile, p.Ldc, mr, nr, first, bias);
                            else
                                TK.Run(kc, aBlock + (nint)(ir - inPlaceRows) * kc, 1, MR, bSliver, cTile, p.Ldc, mr, nr, first, bias);
                        }
                    }
                }
            }
        }
    }

    private static void FillBias(int m, int n, float* c, nint ldc, float* bias)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (bias != null) new ReadOnlySpan<float>(bias, n).CopyTo(row);
            else row.Clear();
        }
    }
}
