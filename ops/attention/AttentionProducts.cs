using System.Runtime.CompilerServices;
using Engine.Backends.Cpu.Kernels.Gemm;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// The small matrix products inside one attention head (S = Q·Kᵀ, O = P·V, dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q,
/// dV = Pᵀ·dO), run on the GEMM's register-blocked micro-kernels without its tiling and threading: one head is one
/// task already, and its operands (T×hs, T×T) fit in L2.
/// </summary>
/// <remarks>
/// B operands are packed whole, in the micro-kernels' sliver layout, once per head (<see cref="PackB{TK}"/>). A
/// operands are read in place through strides, so every A row a kernel may touch (MR rows or columns from the
/// start) must be readable: callers pass buffers padded by at least MR rows / columns.
/// <para>Summation order: every C element is a fused-multiply-add chain per K-slice of B's packing (slices of
/// <see cref="GemmDriver.KC"/> terms aligned to multiples of KC, the first one cut where the range starts),
/// ascending, each slice's sum added into C as in the GEMM. It depends only on the K range, never on the thread
/// count.</para>
/// </remarks>
internal static unsafe class AttentionProducts
{
    /// <summary>Floats that <see cref="PackB{TK}"/> writes for a K×N operand.</summary>
    public static nint PackedSize<TK>(int k, int n) where TK : struct, IMicroKernel =>
        (nint)k * RoundUp(n, TK.NR);

    /// <summary>
    /// Packs B (K×N) so that its K-slice starting at p (a multiple of KC) lies at <c>dst + p · Npad</c> in
    /// <see cref="Packing.PackB{TK}"/>'s layout (NR-wide slivers of kc rows, zero-padded to Npad = N rounded up to NR).
    /// </summary>
    public static void PackB<TK>(StridedMatrix b, int k, int n, float* dst) where TK : struct, IMicroKernel
    {
        nint nPad = RoundUp(n, TK.NR);
        for (int p = 0; p < k; p += GemmDriver.KC)
            Packing.PackB<TK>(b, p, Math.Min(GemmDriver.KC, k - p), 0, n, dst + p * nPad);
    }

    /// <summary>
    /// C[m×n] (= or +=) A[m × (k0..k1)] · B[(k0..k1) × n], B packed by <see cref="PackB{TK}"/> for K rows and N ≥ n
    /// columns (k1 ≤ K). Element (i, k) of A is at <c>a[i·rsa + (k − k0)·csa]</c>. overwrite: C = A·B, else C += A·B.
    /// An empty K range (k0 ≥ k1) writes zeros when overwriting and does nothing when accumulating.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<TK>(int m, int n, int k0, int k1, float* a, nint rsa, nint csa, float* packedB, int bColumns, int bRows,
        float* c, nint ldc, bool overwrite) where TK : struct, IMicroKernel
    {
        int MR = TK.MR, NR = TK.NR, KC = GemmDriver.KC;
        nint nPad = RoundUp(bColumns, NR);
        if (k0 >= k1)
        {
            if (overwrite)
                for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, n).Clear();
            return;
        }
        for (int ir = 0; ir < m; ir += MR)
        {
            int mr = Math.Min(MR, m - ir);
            for (int jr = 0; jr < n; jr += NR)
            {
                int nr = Math.Min(NR, n - jr);
                bool first = overwrite;
                for (int k = k0; k < k1;)
                {
                    // The slice that holds k in B's packing; a range may start inside one.
                    int p = k / KC * KC, sliceRows = Math.Min(KC, bRows - p);
                    int kc = Math.Min(p + sliceRows, k1) - k;
                    float* b = packedB + p * nPad + (nint)jr * sliceRows + (nint)(k - p) * NR;
                    TK.Run(kc, a + ir * rsa + (k - k0) * csa, rsa, csa, b, c + ir * ldc + jr, ldc, mr, nr, first, null);
                    first = false;
                    k += kc;
                }
            }
        }
    }

    public static int RoundUp(int x, int unit) => (x + unit - 1) / unit * unit;
}
