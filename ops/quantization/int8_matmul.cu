// int8 matrix products (ops/quantization/int8_matmul.ops). CPU twins: Int8Matmul.cs, Int8GemmPanels.cs,
// Int8WeightMatmul.cs. Every product is out (N×M) = a (N×K) · b (M×K)ᵀ, row-major.
// - product: the int8 GEMM where cublasGemmEx's int8 rules do not hold (K or M not a multiple of 4, unaligned
//   operands): __dp4a sums four int8 products into int32, wrapping like the CPU's int arithmetic, so it is exact.
// - dequantize: the w8a8 epilogue, spelled with __fmul_rn/__fadd_rn so nvcc cannot fuse it into an FMA: the same
//   roundings as the CPU's (float)acc · (s_in · s_w) + bias.
// - weight_only: fp32 activations × int8 weights widened in shared memory; each output one fmaf chain over k in order.
#include "common.cuh"

namespace engine {
namespace int8_gemm {

// A block computes a 64×64 output tile with 16×16 threads, each thread a 4×4 register tile (rows ty + 16i, columns
// tx + 16j: a warp's columns are consecutive, so its stores coalesce).
constexpr int kTile = 64;
constexpr int kThreadsX = 16;
constexpr int kPer = kTile / kThreadsX;
// The int8 kernel's k step: 32 bytes a row, stored with 4 bytes of padding (a 9-word stride puts the 16 rows that a
// half-warp reads on 16 different banks). Dynamic shared memory: 2 · 64 · 36 bytes (the host passes kInt8SharedBytes).
constexpr int kInt8Step = 32;
constexpr int kInt8Stride = kInt8Step + 4;
// The weight-only kernel's k step: 16 floats a row, stride 17 (conflict-free for the same reason); 2 · 64 · 17 floats.
constexpr int kFloatStep = 16;
constexpr int kFloatStride = kFloatStep + 1;

__device__ __forceinline__ void product(int* out, const signed char* a, const signed char* b, int N, int K, int M) {
    ENGINE_DYNAMIC_SHARED_ALIGNED(16, int, int8_tiles);
    signed char* as = reinterpret_cast<signed char*>(int8_tiles);
    signed char* bs = as + kTile * kInt8Stride;
    const int tx = threadIdx.x % kThreadsX, ty = threadIdx.x / kThreadsX;
    const long row0 = (long)blockIdx.y * kTile, col0 = (long)blockIdx.x * kTile;
    // Each thread loads 8 bytes of each tile: row t / 4, bytes 8·(t % 4) … +7 (byte loads: a row of K bytes need not be
    // 4-byte aligned when K is not a multiple of 4). Outside the matrix: 0, which adds nothing.
    const int load_row = threadIdx.x / 4, load_col = (threadIdx.x % 4) * 8;
    int acc[kPer][kPer] = {};
    for (int k0 = 0; k0 < K; k0 += kInt8Step) {
        const long ar = row0 + load_row, br = col0 + load_row;
        for (int c = 0; c < 8; c++) {
            const int k = k0 + load_col + c;
            as[load_row * kInt8Stride + load_col + c] = ar < N && k < K ? a[ar * K + k] : (signed char)0;
            bs[load_row * kInt8Stride + load_col + c] = br < M && k < K ? b[br * K + k] : (signed char)0;
        }
        __syncthreads();
        for (int kk = 0; kk < kInt8Step; kk += 4) {
            int av[kPer], bv[kPer];
            for (int i = 0; i < kPer; i++) av[i] = *reinterpret_cast<const int*>(as + (ty + kThreadsX * i) * kInt8Stride + kk);
            for (int j = 0; j < kPer; j++) bv[j] = *reinterpret_cast<const int*>(bs + (tx + kThreadsX * j) * kInt8Stride + kk);
            for (int i = 0; i < kPer; i++)
                for (int j = 0; j < kPer; j++) acc[i][j] = __dp4a(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < kPer; i++) {
        const long n = row0 + ty + kThreadsX * i;
        if (n >= N) continue;
        for (int j = 0; j < kPer; j++) {
            const long m = col0 + tx + kThreadsX * j;
            if (m < M) out[n * M + m] = acc[i][j];
        }
    }
}

__device__ __forceinline__ void dequantize(float* out, const int* acc, const float* input_scale,
                                           const float* weight_scales, const float* bias, int N, int M) {
    const long n = (long)N * M;
    const float s = *input_scale;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long m = i % M;
        const float v = __fmul_rn((float)acc[i], __fmul_rn(s, weight_scales[m]));
        out[i] = bias ? __fadd_rn(v, bias[m]) : v;
    }
}

__device__ __forceinline__ void weight_only(float* out, const float* x, const signed char* q, const float* scales,
                                            const float* bias, int N, int K, int M) {
    ENGINE_DYNAMIC_SHARED_ALIGNED(16, float, weight_tiles);
    float* xs = weight_tiles;
    float* ws = xs + kTile * kFloatStride;
    const int tx = threadIdx.x % kThreadsX, ty = threadIdx.x / kThreadsX;
    const long row0 = (long)blockIdx.y * kTile, col0 = (long)blockIdx.x * kTile;
    // Each thread loads 4 elements of each tile: row t / 4, columns 4·(t % 4) … +3; the weights widened here.
    const int load_row = threadIdx.x / 4, load_col = (threadIdx.x % 4) * 4;
    float acc[kPer][kPer] = {};
    for (int k0 = 0; k0 < K; k0 += kFloatStep) {
        const long xr = row0 + load_row, wr = col0 + load_row;
        for (int c = 0; c < 4; c++) {
            const int k = k0 + load_col + c;
            xs[load_row * kFloatStride + load_col + c] = xr < N && k < K ? x[xr * K + k] : 0.0f;
            ws[load_row * kFloatStride + load_col + c] = wr < M && k < K ? (float)q[wr * K + k] : 0.0f;
        }
        __syncthreads();
        // Past K both tiles hold 0: fmaf(0, 0, acc) = acc exactly, so the chain is the CPU's.
        for (int kk = 0; kk < kFloatStep; kk++) {
            float xv[kPer], wv[kPer];
            for (int i = 0; i < kPer; i++) xv[i] = xs[(ty + kThreadsX * i) * kFloatStride + kk];
            for (int j = 0; j < kPer; j++) wv[j] = ws[(tx + kThreadsX * j) * kFloatStride + kk];
            for (int i = 0; i < kPer; i++)
                for (int j = 0; j < kPer; j++) acc[i][j] = fmaf(xv[i], wv[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < kPer; i++) {
        const long n = row0 + ty + kThreadsX * i;
        if (n >= N) continue;
        for (int j = 0; j < kPer; j++) {
            const long m = col0 + tx + kThreadsX * j;
            if (m >= M) continue;
            const float v = __fmul_rn(acc[i][j], scales[m]);
            out[n * M + m] = bias ? __fadd_rn(v, bias[m]) : v;
        }
    }
}

}  // namespace int8_gemm
}  // namespace engine
