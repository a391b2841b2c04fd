using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// Weight-only int8: output[n,m] = (Σ_k x[n,k]·q[m,k])·scales[m] + bias[m], the int8 weights widened to fp32 in
/// registers (the fp32 weight matrix never exists). Each output's sum is one fp32 fused multiply-add chain over k in
/// order, then one multiply by the scale and one add of the bias, each rounded: the vector tiles (256-bit with AVX2 and
/// FMA, 512-bit with AVX-512F) and the scalar loop give the same bits (and the CUDA kernel's order is the same chain; tests still compare it with a tolerance).
/// </summary>
public static unsafe class Int8WeightMatmul
{
    const int MR = 6, NR = 16, RowBlock = 48; // 48: whole tiles of both 6 and 8 rows
    const long ParallelWork = 1L << 20;

    /// <summary>Whether the vector tile runs here (AVX2 and FMA); otherwise the scalar loop, same bits.</summary>
    public static bool Vectorized => Avx2.IsSupported && Fma.IsSupported;

    public static void Multiply(float* output, float* x, sbyte* q, float* scales, float* bias, int N, int K, int M) =>
        Multiply(output, x, q, scales, bias, N, K, M, wide: Avx512F.IsSupported);

    /// <param name="wide">The 512-bit tile (needs AVX-512F); false: the 256-bit one (tests run both where they can).</param>
    public static void Multiply(float* output, float* x, sbyte* q, float* scales, float* bias, int N, int K, int M, bool wide)
    {
        if (wide && !Avx512F.IsSupported) throw new InvalidOperationException("the 512-bit weight-only tile needs AVX-512F");
        if (N == 0 || M == 0) return;
        if (!Vectorized) { Scalar(output, x, q, scales, bias, N, K, M); return; }
        int panels = (M + NR - 1) / NR;
        // q re-laid as int8 panels (step k: 16 columns' q[m,k] in a row), zero columns past M: still 1 byte a weight.
        sbyte* packed = (sbyte*)NativeMemory.AlignedAlloc((nuint)((long)panels * K * NR + 64), 64);
        try
        {
            bool parallel = (long)N * K * M >= ParallelWork;
            Action<int> pack = p =>
            {
                sbyte* panel = packed + (long)p * K * NR;
                for (int c = 0; c < NR; c++)
                {
                    int m = p * NR + c;
                    if (m < M) for (int k = 0; k < K; k++) panel[(long)k * NR + c] = q[(long)m * K + k];
                    else for (int k = 0; k < K; k++) panel[(long)k * NR + c] = 0;
                }
            };
            if (parallel) ParallelRows.For(panels, pack);
            else for (int p = 0; p < panels; p++) pack(p);
            int blocks = (N + RowBlock - 1) / RowBlock;
            Action<int> block = bl =>
            {
                int first = bl * RowBlock, count = Math.Min(RowBlock, N - first);
                for (int p = 0; p < panels; p++)
                    if (wide)
                        for (int r = 0; r < count; r += WideRows)
                        {
                            int n = first + r;
                            TileWide(output + (long)n * M + p * NR, M, x + (long)n * K, K, Math.Min(WideRows, count - r), packed + (long)p * K * NR,
                                scales + p * NR, bias == null ? null : bias + p * NR, Math.Min(NR, M - p * NR));
                        }
                    else
                        for (int r = 0; r < count; r += MR)
                        {
                            int n = first + r;
                            Tile(output + (long)n * M + p * NR, M, x + (long)n * K, K, Math.Min(MR, count - r), packed + (long)p * K * NR,
                                scales + p * NR, bias == null ? null : bias + p * NR, Math.Min(NR, M - p * NR));
                        }
            };
            if (!parallel) for (int b = 0; b < blocks; b++) block(b);
            else ParallelRows.For(blocks, block);
        }
        finally
        {
            NativeMemory.AlignedFree(packed);
        }
    }

    /// <summary>Up to 6 rows × 16 columns: per k, 16 weights widened to fp32 once, each row's x broadcast and fused in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(float* output, int ldo, float* x, int ldx, int rows, sbyte* q, float* scales, float* bias, int cols)
    {
        float* x0 = x, x1 = rows > 1 ? x + ldx : x, x2 = rows > 2 ? x + 2 * ldx : x;
        float* x3 = rows > 3 ? x + 3 * ldx : x, x4 = rows > 4 ? x + 4 * ldx : x, x5 = rows > 5 ? x + 5 * ldx : x;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < ldx; k++, q += NR)
        {
            var w0 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q));
            var w1 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 8));
            var v = Vector256.Create(x0[k]);
            c00 = Fma.MultiplyAdd(v, w0, c00); c01 = Fma.MultiplyAdd(v, w1, c01);
            v = Vector256.Create(x1[k]);
            c10 = Fma.MultiplyAdd(v, w0, c10); c11 = Fma.MultiplyAdd(v, w1, c11);
            v = Vector256.Create(x2[k]);
            c20 = Fma.MultiplyAdd(v, w0, c20); c21 = Fma.MultiplyAdd(v, w1, c21);
            v = Vector256.Create(x3[k]);
            c30 = Fma.MultiplyAdd(v, w0, c30); c31 = Fma.MultiplyAdd(v, w1, c31);
            v = Vector256.Create(x4[k]);
            c40 = Fma.MultiplyAdd(v, w0, c40); c41 = Fma.MultiplyAdd(v, w1, c41);
            v = Vector256.Create(x5[k]);
            c50 = Fma.MultiplyAdd(v, w0, c50); c51 = Fma.MultiplyAdd(v, w1, c51);
        }
        float* tile = stackalloc float[MR * NR];
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40); c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                output[(long)r * ldo + c] = Finish(tile[r * NR + c], scales[c], bias == null ? 0f : bias[c], bias != null);
    }

    const int WideRows = 8;

    /// <summary>Up to 8 rows × 16 columns in 512-bit registers (AVX-512: a panel's 16 columns fill one register, so one
    /// widening feeds 8 rows' FMAs): the same chains as <see cref="Tile"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TileWide(float* output, int ldo, float* x, int ldx, int rows, sbyte* q, float* scales, float* bias, int cols)
    {
        float* tile = stackalloc float[WideRows * NR];
        float* x0 = x, x1 = rows > 1 ? x + ldx : x, x2 = rows > 2 ? x + 2 * ldx : x, x3 = rows > 3 ? x + 3 * ldx : x;
        float* x4 = rows > 4 ? x + 4 * ldx : x, x5 = rows > 5 ? x + 5 * ldx : x, x6 = rows > 6 ? x + 6 * ldx : x, x7 = rows > 7 ? x + 7 * ldx : x;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int k = 0; k < ldx; k++, q += NR)
        {
            var w = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q)));
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(x0[k]), w, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(x1[k]), w, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(x2[k]), w, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(x3[k]), w, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(x4[k]), w, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(x5[k]), w, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(x6[k]), w, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(x7[k]), w, c7);
        }
        c0.Store(tile); c1.Store(tile + 16); c2.Store(tile + 32); c3.Store(tile + 48);
        c4.Store(tile + 64); c5.Store(tile + 80); c6.Store(tile + 96); c7.Store(tile + 112);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                output[(long)r * ldo + c] = Finish(tile[r * NR + c], scales[c], bias == null ? 0f : bias[c], bias != null);
    }

    /// <summary>sum·scale, then + bias: two roundings, never fused (the CUDA kernel's __fmul_rn, __fadd_rn).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish(float sum, float scale, float bias, bool hasBias)
    {
        float v = sum * scale;
        return hasBias ? v + bias : v;
    }

    /// <summary>The same chains one output at a time (CPUs without AVX2/FMA).</summary>
    public static void Scalar(float* output, float* x, sbyte* q, float* scales, float* bias, int N, int K, int M) =>
        ParallelRows.For(N, n =>
        {
            float* row = x + (long)n * K;
            for (int m = 0; m < M; m++)
            {
                sbyte* w = q + (long)m * K;
                float sum = 0f;
                for (int k = 0; k < K; k++) sum = MathF.FusedMultiplyAdd(row[k], w[k], sum);
                output[(long)n * M + m] = Finish(sum, scales[m], bias == null ? 0f : bias[m], bias != null);
            }
        });
}
