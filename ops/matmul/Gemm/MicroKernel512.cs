using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>AVX-512 micro-kernel: an 8×32 tile held in 16 Vector512 accumulators.</summary>
/// <remarks>
/// 32 zmm registers: 16 accumulators + 2 B vectors + 1 broadcast = 19, leaving room so the JIT never spills.
/// Per k step: 2 loads of B, 8 broadcasts of A, 16 FMAs; FMA-bound on cores with two 512-bit FMA pipes
/// (latency 4 ⇒ ≥ 8 independent chains needed). A wider 12×32 tile would cut B traffic a little further but
/// leaves the register allocator little slack; 8×32 is the conservative choice.
/// </remarks>
internal readonly struct MicroKernel512 : IMicroKernel
{
    public static int MR => 8;
    public static int NR => 32;
    public static int MC => 128;
    public static int NC => 512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* a, nint rsa, nint csa, float* b,
        float* c, nint ldc, int mr, int nr, bool overwrite, float* bias)
    {
        if (nr <= 16)
        {
            // Right-edge sliver with at most half the columns (e.g. OC = 257): a one-vector-wide tile does half
            // the work. Per-element arithmetic is unchanged, so results are the same bits.
            RunHalfWidth(kc, a, rsa, csa, b, c, ldc, mr, nr, overwrite, bias);
            return;
        }

        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        nint r2 = rsa * 2, r3 = rsa * 3, r4 = rsa * 4, r5 = rsa * 5, r6 = rsa * 6, r7 = rsa * 7;

        // Touch the C tile now so its cache misses overlap the k loop. Without this the tile's stores (forward
        // writes a fresh output) or loads (backward accumulates) miss at the end and stall the next call.
        if (Sse.IsSupported)
        {
            for (int i = 0; i < mr; i++)
            {
                Sse.Prefetch0(c + i * ldc);
                Sse.Prefetch0(c + i * ldc + 31);
            }
        }

        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> av = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[rsa]);
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[r2]);
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[r3]);
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[r4]);
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[r5]);
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[r6]);
            c60 = Vector512.FusedMultiplyAdd(av, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[r7]);
            c70 = Vector512.FusedMultiplyAdd(av, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            a += csa;
            b += 32;
        }

        if (mr == 8 && nr == 32)
        {
            WriteRow(c, c00, c01, overwrite, bias);
            WriteRow(c + ldc, c10, c11, overwrite, bias);
            WriteRow(c + 2 * ldc, c20, c21, overwrite, bias);
            WriteRow(c + 3 * ldc, c30, c31, overwrite, bias);
            WriteRow(c + 4 * ldc, c40, c41, overwrite, bias);
            WriteRow(c + 5 * ldc, c50, c51, overwrite, bias);
            WriteRow(c + 6 * ldc, c60, c61, overwrite, bias);
            WriteRow(c + 7 * ldc, c70, c71, overwrite, bias);
            return;
        }

        float* t = stackalloc float[8 * 32];
        c00.Store(t); c01.Store(t + 16);
        c10.Store(t + 32); c11.Store(t + 48);
        c20.Store(t + 64); c21.Store(t + 80);
        c30.Store(t + 96); c31.Store(t + 112);
        c40.Store(t + 128); c41.Store(t + 144);
        c50.Store(t + 160); c51.Store(t + 176);
        c60.Store(t + 192); c61.Store(t + 208);
        c70.Store(t + 224); c71.Store(t + 240);
        TileWriter.WritePartial(t, 32, c, ldc, mr, nr, overwrite, bias);
    }

    /// <summary>8×16 variant for right-edge slivers (B is still packed 32 wide; only its first half is read).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [SkipLocalsInit]
    private static unsafe void RunHalfWidth(int kc, float* a, nint rsa, nint csa, float* b,
        float* c, nint ldc, int mr, int nr, bool overwrite, float* bias)
    {
        Vector512<float> c00 = default, c10 = default, c20 = default, c30 = default, c40 = default, c50 = default, c60 = default, c70 = default;
        nint r2 = rsa * 2, r3 = rsa * 3, r4 = rsa * 4, r5 = rsa * 5, r6 = rsa * 6, r7 = rsa * 7;
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            c00 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c00);
            c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a[rsa]), b0, c10);
            c20 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r2]), b0, c20);
            c30 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r3]), b0, c30);
            c40 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r4]), b0, c40);
            c50 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r5]), b0, c50);
            c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r6]), b0, c60);
            c70 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r7]), b0, c70);
            a += csa;
            b += 32;
        }
        float* t = stackalloc float[8 * 32];
        c00.Store(t + 0);
        c10.Store(t + 32);
        c20.Store(t + 64);
        c30.Store(t + 96);
        c40.Store(t + 128);
        c50.Store(t + 160);
        c60.Store(t + 192);
        c70.Store(t + 224);
        TileWriter.WritePartial(t, 32, c, ldc, mr, nr, overwrite, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WriteRow(float* c, Vector512<float> x0, Vector512<float> x1, bool overwrite, float* bias)
    {
        if (overwrite)
        {
            if (bias != null)
            {
                x0 += Vector512.Load(bias);
                x1 += Vector512.Load(bias + 16);
            }
        }
        else
        {
            x0 = Vector512.Load(c) + x0;
            x1 = Vector512.Load(c + 16) + x1;
        }
        x0.Store(c);
        x1.Store(c + 16);
    }
}
