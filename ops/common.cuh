// Helpers shared by every ops/*/*.cu. The fatbin is one translation unit that includes every .cu
// (see CMakeLists.txt), so everything here is `static`/inline and guarded against double inclusion.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

// bf16 types and conversions. cuda_bf16.h has existed since CUDA 11.0, but 11.x only defines the bf16
// arithmetic for sm_80+ device code, while 12.x/13.x define it everywhere. Kernels call the helpers below
// (float in, float out) so the same source builds with Debian's nvcc 11.8 and the GPU machine's nvcc 13.0.
#if !defined(__CUDACC_VER_MAJOR__) || __CUDACC_VER_MAJOR__ < 11
#error "ops/ needs nvcc 11.0 or newer (cuda_bf16.h)"
#endif
#include <cuda_bf16.h>
#include <cuda_fp16.h>

// Dynamic shared memory (the launch's sharedBytes): `extern __shared__ T name[]` is not C++, so kernels declare it
// through these, which the emulated device's shim (emulator/shim, -DENGINE_CUDA_EMULATOR) defines its own way.
#ifndef ENGINE_DYNAMIC_SHARED
#define ENGINE_DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#define ENGINE_DYNAMIC_SHARED_ALIGNED(bytes, type, name) extern __shared__ __align__(bytes) type name[]
#endif

namespace engine {

// ---- index math -------------------------------------------------------------------------------------
// Sizes arrive as C# `long` (64-bit on Linux x86_64, as is CUDA's `long`). blockIdx.x * blockDim.x is a
// 32-bit product that overflows past 2^32 elements, so every index is widened before the multiply.

__device__ __forceinline__ long global_thread_index() {
    return (long)blockIdx.x * (long)blockDim.x + (long)threadIdx.x;
}

__device__ __forceinline__ long grid_stride() {
    return (long)gridDim.x * (long)blockDim.x;
}

__host__ __device__ constexpr long ceil_div(long a, long b) { return (a + b - 1) / b; }

// Row-major 2-D index (row, col) into rows of `stride` elements, in 64-bit.
__host__ __device__ __forceinline__ long index2(long row, long col, long stride) { return row * stride + col; }

// Bounds checks cost registers and branches, so they exist only in checked builds
// (cmake -DENGINE_KERNEL_CHECKS=ON): an out-of-range index then traps and the launch fails with
// CUDA_ERROR_ASSERT / ILLEGAL_INSTRUCTION instead of silently corrupting memory.
#if defined(ENGINE_KERNEL_CHECKS)
#define ENGINE_CHECK_INDEX(i, n)                                                          \
    do {                                                                                  \
        if ((i) < 0 || (i) >= (n)) {                                                      \
            printf("%s:%d: index %ld out of range [0, %ld)\n", __FILE__, __LINE__,      \
                   (long)(i), (long)(n));                                                 \
            __trap();                                                                     \
        }                                                                                 \
    } while (0)
#else
#define ENGINE_CHECK_INDEX(i, n) ((void)0)
#endif

// ---- warp and block reductions ------------------------------------------------------------------------
// Butterfly (xor) shuffles leave the result in every lane, so no broadcast step is needed afterwards.
// All 32 lanes must take part: call these from converged code with full warps.

constexpr unsigned FULL_WARP_MASK = 0xffffffffu;
constexpr int WARP_SIZE = 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(FULL_WARP_MASK, v, offset);
    return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) v += __shfl_xor_sync(FULL_WARP_MASK, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_WARP_MASK, v, offset));
    return v;
}

// Sum over the whole block; every thread gets the result. blockDim.x must be a multiple of 32 (≤ 1024).
// `scratch` is 32 floats of shared memory; the leading __syncthreads lets callers reuse it back to back.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
    const int warps = blockDim.x / WARP_SIZE;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

// ---- precision conversions ----------------------------------------------------------------------------

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

}  // namespace engine

// ---- one kernel per value storage -------------------------------------------------------------------------
// Ops that read and write values in the training precision (activations, their gradients, the weights' compute
// copy) are written once as a template on the value type; statistics (means, 1/σ, log-sum-exp, losses) and the
// weights' gradients stay float whatever the value type is. Each such op has one extern "C" entry per storage,
// named by suffix: name_f32 (float), name_bf16 (bf16), name_f16 (fp16); CudaBackend picks the entry from the
// slices' storage. The entries are written out one by one, body on its own line: nvcc 11.8 with -lineinfo crashes
// (segfault) on a kernel whose whole body sits on its declaration's line, which is what a macro generating them
// would produce.
namespace engine {
using bf16 = __nv_bfloat16;
using fp16 = __half;
}  // namespace engine
