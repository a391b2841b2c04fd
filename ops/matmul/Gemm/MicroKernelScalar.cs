using System.Runtime.CompilerServices;

namespace Engine.Backends.Cpu.Kernels.Gemm;

/// <summary>Portable fallback: a 4×8 tile with scalar <see cref="MathF.FusedMultiplyAdd"/>.</summary>
/// <remarks>
/// Same arithmetic contract as the vector kernels (fresh fused chain per K-slice), so it yields the same bits;
/// it exists for hardware without AVX2/FMA and as the readable statement of what the vector kernels compute.
/// </remarks>
internal readonly struct MicroKernelScalar : IMicroKernel
{
    public static int MR => 4;
    public static int NR => 8;
    public static int MC => 64;
    public static int NC => 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static unsafe void Run(int kc, float* a, nint rsa, nint csa, float* b,
        float* c, nint ldc, int mr, int nr, bool overwrite, float* bias)
    {
        float* acc = stackalloc float[4 * 8];
        new Span<float>(acc, 4 * 8).Clear();
        for (int k = 0; k < kc; k++)
        {
            for (int i = 0; i < 4; i++)
            {
                float ai = a[i * rsa];
                float* row = acc + i * 8;
                for (int j = 0; j < 8; j++)
                    row[j] = MathF.FusedMultiplyAdd(ai, b[j], row[j]);
            }
            a += csa;
            b += 8;
        }
        TileWriter.WritePartial(acc, 8, c, ldc, mr, nr, overwrite, bias);
    }
}
