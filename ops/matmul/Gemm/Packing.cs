using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Copies operand blocks into the contiguous, kernel-friendly layouts the micro-kernels stream through.
/// Packing only moves values (and pads with zeros), it never does arithmetic, so it has no effect on results.
/// Generic over the kernel so MR/NR are JIT-time constants and the full-width copies become a few vector moves.
/// </summary>
internal static unsafe class Packing
{
    /// <summary>
    /// Packs rows [k0, k0+kc) × columns [j0, j0+nc) of B into slivers of NR columns:
    /// sliver s holds element (k, j) at <c>dst[s * kc * NR + k * NR + (j - s*NR)]</c>. The last sliver is
    /// zero-padded to NR columns, so kernels always run full width (padding lanes are computed and discarded).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB<TK>(StridedMatrix b, int k0, int kc, int j0, int nc, float* dst) where TK : struct, IMicroKernel
    {
        int NR = TK.NR;
        int fullSlivers = nc / NR;
        if (b.ColStride == 1)
        {
            // Rows of B contiguous (dinput: W, dweight: input). k-major: each source row segment is read once,
            // sequentially, and scattered into the slivers (better for the hardware prefetcher than sliver-major).
            nint rs = b.RowStride;
            nint sliverSize = (nint)kc * NR;
            for (int k = 0; k < kc; k++)
            {
                float* s = b.At(k0 + k, j0);
                float* d = dst + (nint)k * NR;
                for (int sl = 0; sl < fullSlivers; sl++, s += NR, d += sliverSize)
                    CopyFloats(d, s, NR);
            }
            int tail = nc - fullSlivers * NR;
            if (tail > 0)
            {
                float* s = b.At(k0, j0 + fullSlivers * NR);
                float* d = dst + fullSlivers * sliverSize;
                for (int k = 0; k < kc; k++, s += rs, d += NR)
                {
                    int j = 0;
                    for (; j < tail; j++) d[j] = s[j];
                    for (; j < NR; j++) d[j] = 0f;
                }
            }
            return;
        }

        // Columns of B contiguous in k (forward: B = Wᵀ): read each column sequentially, write strided.
        for (int js = 0; js < nc; js += NR)
        {
            int w = Math.Min(NR, nc - js);
            float* d = dst + (nint)js * kc;
            nint rs = b.RowStride;
            for (int j = 0; j < w; j++)
            {
                float* s = b.At(k0, j0 + js + j);
                for (int k = 0; k < kc; k++) d[(nint)k * NR + j] = s[k * rs];
            }
            for (int j = w; j < NR; j++)
                for (int k = 0; k < kc; k++) d[(nint)k * NR + j] = 0f;
        }
    }

    /// <summary>
    /// Packs rows [i0, i0+mc) × columns [k0, k0+kc) of A into slivers of MR rows:
    /// sliver s holds element (i, k) at <c>dst[s * kc * MR + k * MR + (i - s*MR)]</c>, zero-padded to MR rows.
    /// A kernel then reads it with rsa = 1, csa = MR.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA<TK>(StridedMatrix a, int i0, int mc, int k0, int kc, float* dst) where TK : struct, IMicroKernel
    {
        int MR = TK.MR;
        int fullSlivers = mc / MR;
        if (a.RowStride == 1)
        {
            // Columns of A contiguous (dweight: A = doutᵀ, i.e. row k of dout holds A[·, k]): MR floats per k.
            // Sliver-major here (measured ~1.7× faster than k-major for these 24–32-byte pieces).
            nint cs = a.ColStride;
            nint sliverSize = (nint)kc * MR;
            for (int sl = 0; sl < fullSlivers; sl++)
            {
                float* s = a.At(i0 + sl * MR, k0);
                float* d = dst + sl * sliverSize;
                for (int k = 0; k < kc; k++, s += cs, d += MR)
                    CopyFloats(d, s, MR);
            }
            int tail = mc - fullSlivers * MR;
            if (tail > 0)
            {
                float* s = a.At(i0 + fullSlivers * MR, k0);
                float* d = dst + fullSlivers * sliverSize;
                for (int k = 0; k < kc; k++, s += cs, d += MR)
                {
                    int i = 0;
                    for (; i < tail; i++) d[i] = s[i];
                    for (; i < MR; i++) d[i] = 0f;
                }
            }
            return;
        }

        // Rows of A contiguous in k (the tail sliver of an in-place A): read rows, write strided.
        for (int is_ = 0; is_ < mc; is_ += MR)
        {
            int h = Math.Min(MR, mc - is_);
            float* d = dst + (nint)is_ * kc;
            nint cs = a.ColStride;
            for (int i = 0; i < h; i++)
            {
                float* s = a.At(i0 + is_ + i, k0);
                for (int k = 0; k < kc; k++) d[(nint)k * MR + i] = s[k * cs];
            }
            for (int i = h; i < MR; i++)
                for (int k = 0; k < kc; k++) d[(nint)k * MR + i] = 0f;
        }
    }

    /// <summary>
    /// Copies n floats, n being a JIT-time constant (MR or NR) so the switch folds to a couple of vector moves.
    /// (Unsafe.CopyBlockUnaligned measured ~10× slower here: it was not unrolled into moves.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyFloats(float* d, float* s, int n)
    {
        switch (n)
        {
            case 4:
                Vector128.Store(Vector128.Load(s), d);
                break;
            case 6:
                Vector128.Store(Vector128.Load(s), d);
                *(long*)(d + 4) = *(long*)(s + 4);
                break;
            case 8:
                Vector256.Store(Vector256.Load(s), d);
                break;
            case 16:
                Vector256.Store(Vector256.Load(s), d);
                Vector256.Store(Vector256.Load(s + 8), d + 8);
                break;
            case 32:
                Vector256.Store(Vector256.Load(s), d);
                Vector256.Store(Vector256.Load(s + 8), d + 8);
                Vector256.Store(Vector256.Load(s + 16), d + 16);
                Vector256.Store(Vector256.Load(s + 24), d + 24);
                break;
            default:
                for (int i = 0; i < n; i++) d[i] = s[i];
                break;
        }
    }
}
