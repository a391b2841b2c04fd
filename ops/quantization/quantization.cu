// Symmetric integer quantization (ops/quantization/quantization.ops). CPU twins: Quantization.cs. Both sides divide
// x / scale (IEEE, correctly rounded: no fast math), round with rintf (the default mode: nearest, ties to even) and
// clamp to [-qmax, qmax], so the integers (and the dequantized floats) match bit for bit. Maxima ignore NaN, which
// makes them independent of the reduction order.
#include "common.cuh"

namespace engine {
namespace quantization {

// The block size every reducing kernel here is launched with; their scratch is kThreads floats of DYNAMIC shared
// memory (the host passes kThreads * 4 bytes): a static __shared__ array is a thread_local under the emulated
// device, whose library's static TLS must stay small enough for dlopen.
constexpr int kThreads = 256;

// The integer level of x for the scale s, as a float: 0 for a zero scale or a NaN input.
__device__ __forceinline__ float level(float x, float s, float qmax) {
    if (s == 0.0f) return 0.0f;
    float v = rintf(x / s);
    if (v != v) return 0.0f;
    return v > qmax ? qmax : (v < -qmax ? -qmax : v);
}

// max(m, |x|) that keeps m when x is NaN.
__device__ __forceinline__ float absmax_step(float m, float x) {
    const float a = fabsf(x);
    return a > m ? a : m;
}

// The block's maximum in a fixed shared-memory tree; every thread gets it.
__device__ __forceinline__ float block_max(float m, float* scratch) {
    scratch[threadIdx.x] = m;
    __syncthreads();
    for (int width = kThreads / 2; width > 0; width /= 2) {
        if ((int)threadIdx.x < width) scratch[threadIdx.x] = absmax_step(scratch[threadIdx.x], scratch[threadIdx.x + width]);
        __syncthreads();
    }
    const float result = scratch[0];
    __syncthreads();
    return result;
}

// One block per row (grid-stride over rows): the row's max |w|, its scale, then its levels.
__device__ __forceinline__ void quantize_rows(signed char* q, float* scales, const float* w, int rows, int cols,
                                              int qmax) {
    ENGINE_DYNAMIC_SHARED(float, scratch);
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* row = w + (long)r * cols;
        float m = 0.0f;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) m = absmax_step(m, row[c]);
        const float s = block_max(m, scratch) / (float)qmax;
        if (threadIdx.x == 0) scales[r] = s;
        for (int c = threadIdx.x; c < cols; c += blockDim.x)
            q[(long)r * cols + c] = (signed char)level(row[c], s, (float)qmax);
    }
}

// Stage 1 of the per-tensor max: a fixed grid, partials[block] = the max |x| of the block's grid-stride subset.
__device__ __forceinline__ void absmax_partial(float* partials, const float* x, long n) {
    ENGINE_DYNAMIC_SHARED(float, scratch);
    float m = 0.0f;
    for (long i = global_thread_index(); i < n; i += grid_stride()) m = absmax_step(m, x[i]);
    m = block_max(m, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = m;
}

// Stage 2: one thread, the max of the partials, and the scale from it.
__device__ __forceinline__ void absmax_scale(float* scale, const float* partials, int count, int qmax) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    float m = 0.0f;
    for (int i = 0; i < count; i++) m = absmax_step(m, partials[i]);
    *scale = m / (float)qmax;
}

__device__ __forceinline__ void quantize_tensor(signed char* q, const float* x, const float* scale, long n, int qmax) {
    const float s = *scale;
    for (long i = global_thread_index(); i < n; i += grid_stride()) q[i] = (signed char)level(x[i], s, (float)qmax);
}

__device__ __forceinline__ void quantize_with_scales(signed char* q, const float* x, const float* scales, int rows,
                                                    int cols, int qmax) {
    const long n = (long)rows * cols;
    for (long i = global_thread_index(); i < n; i += grid_stride())
        q[i] = (signed char)level(x[i], scales[i / cols], (float)qmax);
}

__device__ __forceinline__ void dequantize_rows(float* out, const signed char* q, const float* scales, int rows,
                                                int cols) {
    const long n = (long)rows * cols;
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] = (float)q[i] * scales[i / cols];
}

__device__ __forceinline__ void fake_quantize_rows(float* out, const float* x, const float* scales, int rows, int cols,
                                                   int qmax) {
    const long n = (long)rows * cols;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float v = x[i], s = scales[i / cols];
        out[i] = v != v ? v : level(v, s, (float)qmax) * s;
    }
}

// Two's complement nibbles, element 2i in the low half of byte i; an odd n leaves the last high half 0.
__device__ __forceinline__ void pack_int4(unsigned char* packed, const signed char* q, long n) {
    const long bytes = (n + 1) / 2;
    for (long i = global_thread_index(); i < bytes; i += grid_stride()) {
        const int lo = q[2 * i] & 0xF, hi = 2 * i + 1 < n ? q[2 * i + 1] & 0xF : 0;
        packed[i] = (unsigned char)(lo | (hi << 4));
    }
}

__device__ __forceinline__ void unpack_int4(signed char* q, const unsigned char* packed, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const int b = packed[i / 2], nibble = (i & 1) ? b >> 4 : b & 0xF;
        q[i] = (signed char)((nibble ^ 8) - 8);
    }
}

}  // namespace quantization
}  // namespace engine
