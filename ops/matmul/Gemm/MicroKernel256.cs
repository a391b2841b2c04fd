using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>AVX2/FMA micro-kernel: a 6×16 tile held in 12 Vector256 accumulators.</summary>
/// <remarks>
/// x64 has 16 ymm registers: 12 accumulators + 2 B vectors + 1 broadcast A value = 15, so nothing spills.
/// Per k step: 2 vector loads of B, 6 broadcasts of A, 12 FMAs. With two FMA pipes (latency 4) at least
/// 8 independent chains are needed to saturate them; 12 gives slack.
/// </remarks>
internal readonly struct MicroKernel256 : IMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static int MC => 144;
    public static int NC => 512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* a, nint rsa, nint csa, float* b,
        float* c, nint ldc, int mr, int nr, bool overwrite, float* bias)
    {
        if (nr <= 8)
        {
            // Right-edge sliver with at most half the columns (e.g. OC = 257): a one-vector-wide tile does half
            // the work. Per-element arithmetic is unchanged, so results are the same bits.
            RunHalfWidth(kc, a, rsa, csa, b, c, ldc, mr, nr, overwrite, bias);
            return;
        }

        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector256<float> c40 = default, c41 = default, c50 = default, c51 = default;
        nint r2 = rsa * 2, r3 = rsa * 3, r4 = rsa * 4, r5 = rsa * 5;

        // Touch the C tile now so its cache misses overlap the k loop. Without this the tile's stores (forward
        // writes a fresh output) or loads (backward accumulates) miss at the end and stall the next call.
        if (Sse.IsSupported)
        {
            for (int i = 0; i < mr; i++)
            {
                Sse.Prefetch0(c + i * ldc);
                Sse.Prefetch0(c + i * ldc + 15);
            }
        }

        for (int k = 0; k < kc; k++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> av = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[rsa]);
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[r2]);
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[r3]);
            c30 = Vector256.FusedMultiplyAdd(av, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[r4]);
            c40 = Vector256.FusedMultiplyAdd(av, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[r5]);
            c50 = Vector256.FusedMultiplyAdd(av, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += csa;
            b += 16;
        }

        if (mr == 6 && nr == 16)
        {
            WriteRow(c, c00, c01, overwrite, bias);
            WriteRow(c + ldc, c10, c11, overwrite, bias);
            WriteRow(c + 2 * ldc, c20, c21, overwrite, bias);
            WriteRow(c + 3 * ldc, c30, c31, overwrite, bias);
            WriteRow(c + 4 * ldc, c40, c41, overwrite, bias);
            WriteRow(c + 5 * ldc, c50, c51, overwrite, bias);
            return;
        }

        float* t = stackalloc float[6 * 16];
        c00.Store(t); c01.Store(t + 8);
        c10.Store(t + 16); c11.Store(t + 24);
        c20.Store(t + 32); c21.Store(t + 40);
        c30.Store(t + 48); c31.Store(t + 56);
        c40.Store(t + 64); c41.Store(t + 72);
        c50.Store(t + 80); c51.Store(t + 88);
        TileWriter.WritePartial(t, 16, c, ldc, mr, nr, overwrite, bias);
    }

    /// <summary>6×8 variant for right-edge slivers (B is still packed 16 wide; only its first half is read).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [SkipLocalsInit]
    private static unsafe void RunHalfWidth(int kc, float* a, nint rsa, nint csa, float* b,
        float* c, nint ldc, int mr, int nr, bool overwrite, float* bias)
    {
        Vector256<float> c00 = default, c10 = default, c20 = default, c30 = default, c40 = default, c50 = default;
        nint r2 = rsa * 2, r3 = rsa * 3, r4 = rsa * 4, r5 = rsa * 5;
        for (int k = 0; k < kc; k++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            c00 = Vector256.FusedMultiplyAdd(Vector256.Create(a[0]), b0, c00);
            c10 = Vector256.FusedMultiplyAdd(Vector256.Create(a[rsa]), b0, c10);
            c20 = Vector256.FusedMultiplyAdd(Vector256.Create(a[r2]), b0, c20);
            c30 = Vector256.FusedMultiplyAdd(Vector256.Create(a[r3]), b0, c30);
            c40 = Vector256.FusedMultiplyAdd(Vector256.Create(a[r4]), b0, c40);
            c50 = Vector256.FusedMultiplyAdd(Vector256.Create(a[r5]), b0, c50);
            a += csa;
            b += 16;
        }
        float* t = stackalloc float[6 * 16];
        c00.Store(t + 0);
        c10.Store(t + 16);
        c20.Store(t + 32);
        c30.Store(t + 48);
        c40.Store(t + 64);
        c50.Store(t + 80);
        TileWriter.WritePartial(t, 16, c, ldc, mr, nr, overwrite, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WriteRow(float* c, Vector256<float> x0, Vector256<float> x1, bool overwrite, float* bias)
    {
        if (overwrite)
        {
            if (bias != null)
            {
                x0 += Vector256.Load(bias);
                x1 += Vector256.Load(bias + 8);
            }
        }
        else
        {
            x0 = Vector256.Load(c) + x0;
            x1 = Vector256.Load(c + 8) + x1;
        }
        x0.Store(c);
        x1.Store(c + 8);
    }
}
