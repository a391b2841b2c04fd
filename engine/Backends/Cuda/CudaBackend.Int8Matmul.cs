using Engine.Interop.Cublas;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// int8 matrix products (ops/quantization/int8_matmul.ops, kernels in int8_matmul.cu); CPU twins in
// ops/quantization/Int8Matmul.cs and Int8WeightMatmul.cs.
public sealed unsafe partial class CudaBackend
{
    const uint Int8TileSize = 64, Int8TileThreads = 256;                 // int8_matmul.cu: kTile, 16×16 threads
    const int Int8SharedBytes = 2 * 64 * (32 + 4);                       // two 64-row tiles of 32 + 4 bytes
    const int WeightOnlySharedBytes = 2 * 64 * (16 + 1) * sizeof(float); // two 64-row tiles of 16 + 1 floats

    /// <summary>Whether <see cref="Int8Matmul"/> may call cublasGemmEx where its int8 rules hold (the default); false
    /// runs the __dp4a kernel for every shape (tests compare the two, benchmarks time them).</summary>
    public bool Int8MatmulCublas { get; set; } = true;

    /// <summary>
    /// cublasGemmEx's int8 path (CUDA_R_8I in, CUDA_R_32I out, CUBLAS_COMPUTE_32I, int32 alpha 1 and beta 0) wants
    /// A and B 4-byte aligned with leading dimensions that are multiples of 4, and its IMMA kernels want the "TN" form
    /// (op(A) = Aᵀ, op(B) = B) with m and k multiples of 4. Row-major out (N×M) = a·bᵀ is column-major outᵀ (M×N) =
    /// b·aᵀ: A = b read transposed (K×M, lda K), B = a (K×N, ldb K), so TN holds by construction and the rules come down
    /// to K and M multiples of 4 and aligned operands. Any other shape takes the kernel (exact as well).
    /// </summary>
    static bool CublasTakesInt8(int K, int M, ulong a, ulong b, ulong output) =>
        K % 4 == 0 && M % 4 == 0 && (a | b | output) % 4 == 0;

    public void Int8Matmul(Slice<int> output, Slice<sbyte> a, Slice<sbyte> b, int N, int K, int M)
    {
        Int8MatmulChecks.Product("int8 matmul", output.Length, a.Length, b.Length, N, K, M);
        if (N == 0 || M == 0) return;
        ulong o = Ptr(output), pa = Ptr(a), pb = Ptr(b);
        if (Int8MatmulCublas && K > 0 && CublasTakesInt8(K, M, pa, pb, o))
        {
            int alpha = 1, beta = 0; // COMPUTE_32I scales are int32 (and cuBLAS takes only 0 and 1 here)
            CublasStatus.Check(CublasApi.cublasGemmEx(blas.DangerousGetHandle(), CublasConstants.OpT, CublasConstants.OpN, M, N, K,
                &alpha, pb, CublasConstants.R8I, K, pa, CublasConstants.R8I, K, &beta, o, CublasConstants.R32I, M,
                CublasConstants.Compute32I, CublasConstants.GemmDefault), $"cublasGemmEx (int8 matmul, {M}×{N}×{K})");
            return;
        }
        LaunchInt8Matmul(TileGrid("int8 matmul", N, M, Int8SharedBytes), o, pa, pb, N, K, M);
    }

    public void Int8MatmulDequantize(Slice<float> output, Slice<int> accumulators, Slice<float> inputScale, Slice<float> weightScales, Slice<float> bias, int N, int M)
    {
        Int8MatmulChecks.Epilogue("int8 matmul dequantize", output.Length, accumulators.Length, inputScale.Length, N, M);
        Int8MatmulChecks.Columns("int8 matmul dequantize", weightScales.Length, bias.Length, M);
        long n = (long)N * M;
        if (n > 0) LaunchInt8MatmulDequantize(Elementwise(n), Ptr(output), Ptr(accumulators), Ptr(inputScale), Ptr(weightScales), Ptr(bias), N, M);
    }

    public void MatmulInt8Weights(Slice<float> output, Slice<float> input, Slice<sbyte> weights, Slice<float> scales, Slice<float> bias, int N, int K, int M)
    {
        Int8MatmulChecks.Product("matmul int8 weights", output.Length, input.Length, weights.Length, N, K, M);
        Int8MatmulChecks.Columns("matmul int8 weights", scales.Length, bias.Length, M);
        if (N == 0 || M == 0) return;
        LaunchMatmulInt8Weights(TileGrid("matmul int8 weights", N, M, WeightOnlySharedBytes),
            Ptr(output), Ptr(input), Ptr(weights), Ptr(scales), Ptr(bias), N, K, M);
    }

    static uint TilesOf(int n) => (uint)((n + Int8TileSize - 1) / Int8TileSize);

    /// <summary>The kernels' grid: M's tiles in x, N's in y, which CUDA caps at 65 535 (N ≤ 4 194 240 rows).</summary>
    static KernelLaunch TileGrid(string op, int N, int M, int sharedBytes)
    {
        uint rowTiles = TilesOf(N);
        if (rowTiles > 65535)
            throw new EngineException($"{op}: {N} rows need {rowTiles} tiles of {Int8TileSize}, more than the grid's 65 535: multiply the rows in parts");
        return new(TilesOf(M), rowTiles, Int8TileThreads, SharedBytes: sharedBytes);
    }
}
