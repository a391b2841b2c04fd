using System.Runtime.CompilerServices;

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
        for (int js = 0; js < nc; js += NR)
        {
            int w = Math.Min(NR, nc - js);
            float* d = dst + (nint)js * kc;
            if (b.ColStride == 1)
            {
                // Rows of B contiguous (dinput: W, dweight: input): straight row-segment copies.
                nint rs = b.RowStride;
                float* s = b.At(k0, j0 + js);
                if (w == NR)
                {
                    for (int k = 0; k < kc; k++, s += rs, d += NR)
                        Unsafe.CopyBlockUnaligned(d, s, (uint)(NR * sizeof(float)));
                }
                else
                {
                    for (int k = 0; k < kc; k++, s += rs, d += NR)
                    {
                        int j = 0;
                        for (; j < w; j++) d[j] = s[j];
                        for (; j < NR; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // Columns of B contiguous in k (forward: B = Wᵀ): read each column sequentially, write strided.
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
        for (int is_ = 0; is_ < mc; is_ += MR)
        {
            int h = Math.Min(MR, mc - is_);
            float* d = dst + (nint)is_ * kc;
            if (a.RowStride == 1)
            {
                // Columns of A contiguous (dweight: A = doutᵀ): copy MR consecutive floats per k.
                nint cs = a.ColStride;
                float* s = a.At(i0 + is_, k0);
                if (h == MR)
                {
                    for (int k = 0; k < kc; k++, s += cs, d += MR)
                        Unsafe.CopyBlockUnaligned(d, s, (uint)(MR * sizeof(float)));
                }
                else
                {
                    for (int k = 0; k < kc; k++, s += cs, d += MR)
                    {
                        int i = 0;
                        for (; i < h; i++) d[i] = s[i];
                        for (; i < MR; i++) d[i] = 0f;
                    }
                }
            }
            else
            {
                // Rows of A contiguous in k (tail sliver of an in-place A): read rows, write strided.
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
    }
}
