// 8-bit AdamW (ops/optimizer/adamw8bit.ops): moments as bytes indexing a 256-entry dynamic map, one fp32 absmax per
// block of 2048 elements. CPU twin: AdamW8Bit.cs, which must give the same bits, so:
// - every arithmetic step is a round-to-nearest intrinsic (__fmul_rn, __fadd_rn, __fsub_rn, __fdiv_rn, __fsqrt_rn):
//   nvcc contracts a·b + c into an FMA by default, the CPU twin never does; the intrinsics are never contracted;
// - the order of operations per element is fixed (element_step below, written out the same in C#);
// - the block's new absmax is a max that ignores NaN, which gives the same value in any reduction order;
// - the code is the nearest map entry found by the same binary search, ties to the upper entry.
#include "common.cuh"

namespace engine {
namespace adamw8bit {

constexpr int kBlock = 2048;   // elements per quantization block (the paper's and bitsandbytes' block size)
constexpr int kThreads = 256;  // threads per CUDA block: the host launches exactly this many
constexpr int kPerThread = kBlock / kThreads;
constexpr int kMap = 256;      // entries per quantization map

// max(m, |x|), keeping m when x is NaN (order-free, as the CPU's loop over the block).
__device__ __forceinline__ float absmax_step(float m, float x) {
    const float a = fabsf(x);
    return a > m ? a : m;
}

// The index of the map entry nearest to x (map ascending, 256 entries). x at or below map[0] (and NaN) gives 0, at or
// above map[255] gives 255; otherwise map[lo] < x <= map[hi] with hi = lo + 1 and the nearer one wins, a tie going to
// hi (the differences are rounded fp32 subtractions, the same on both sides).
__device__ __forceinline__ int nearest_code(const float* map, float x) {
    if (!(x > map[0])) return 0;
    if (x >= map[kMap - 1]) return kMap - 1;
    int lo = 0, hi = kMap - 1;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (map[mid] < x) lo = mid; else hi = mid;
    }
    return __fsub_rn(x, map[lo]) < __fsub_rn(map[hi], x) ? lo : hi;
}

// The code of value in a block whose absmax is scale: nearest(value / scale); a zero block quantizes to the entry
// nearest 0.
__device__ __forceinline__ unsigned char quantize(const float* map, float value, float scale) {
    const float x = scale > 0.0f ? __fdiv_rn(value, scale) : 0.0f;
    return (unsigned char)nearest_code(map, x);
}

// One element of AdamW (torch.optim.AdamW's formula, as optimizer.cu's adamw_element), in this order:
//   p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + ((1−β2)·g)·g;
//   p ← p − (step_size·m) / (√v / bias2_sqrt + ε).
__device__ __forceinline__ float element_step(float param, float grad, float& m, float& v, float decay, float beta1,
                                              float beta2, float eps, float step_size, float bias2_sqrt) {
    const float p = __fmul_rn(param, decay);
    m = __fadd_rn(__fmul_rn(beta1, m), __fmul_rn(__fsub_rn(1.0f, beta1), grad));
    v = __fadd_rn(__fmul_rn(beta2, v), __fmul_rn(__fmul_rn(__fsub_rn(1.0f, beta2), grad), grad));
    const float denominator = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), bias2_sqrt), eps);
    return __fsub_rn(p, __fdiv_rn(__fmul_rn(step_size, m), denominator));
}

// Both block maxima in one fixed shared-memory tree; every thread gets them.
__device__ __forceinline__ void block_max2(float& a, float& b, float* scratch_a, float* scratch_b) {
    scratch_a[threadIdx.x] = a;
    scratch_b[threadIdx.x] = b;
    __syncthreads();
    for (int width = kThreads / 2; width > 0; width /= 2) {
        if ((int)threadIdx.x < width) {
            scratch_a[threadIdx.x] = absmax_step(scratch_a[threadIdx.x], scratch_a[threadIdx.x + width]);
            scratch_b[threadIdx.x] = absmax_step(scratch_b[threadIdx.x], scratch_b[threadIdx.x + width]);
        }
        __syncthreads();
    }
    a = scratch_a[0];
    b = scratch_b[0];
}

// One quantization block per CUDA block: blockIdx.x = b covers [0, first_block) for b = 0 and
// [first_block + (b-1)·2048, +2048) ∩ [0, n) after. Each thread keeps its (up to) 8 new moments in registers between
// the update and the requantization. Dynamic shared memory: m_map, v_map, two max trees (4 × 256 floats).
template <typename Half, bool kWriteCopy>
__device__ __forceinline__ void block_step(float* params, Half* copy, const float* grads, unsigned char* m_codes,
                                           unsigned char* v_codes, float* m_absmax, float* v_absmax,
                                           const float* m_map, const float* v_map, long n, int first_block, float lr,
                                           float beta1, float beta2, float eps, float weight_decay, float step_size,
                                           float bias2_sqrt) {
    ENGINE_DYNAMIC_SHARED(float, shared);
    float* qm = shared;
    float* qv = shared + kMap;
    float* tree_m = shared + 2 * kMap;
    float* tree_v = shared + 3 * kMap;
    for (int i = threadIdx.x; i < kMap; i += kThreads) {
        qm[i] = m_map[i];
        qv[i] = v_map[i];
    }
    const long b = blockIdx.x;
    const long start = b == 0 ? 0 : first_block + (b - 1) * kBlock;
    const long end_unclamped = b == 0 ? (long)first_block : start + kBlock;
    const long end = end_unclamped < n ? end_unclamped : n;
    // Read before the first barrier; thread 0 overwrites them only after the max tree's barriers.
    const float m_scale = m_absmax[b], v_scale = v_absmax[b];
    const float decay = __fsub_rn(1.0f, __fmul_rn(lr, weight_decay));
    __syncthreads();

    float ms[kPerThread], vs[kPerThread];
    float m_max = 0.0f, v_max = 0.0f;
    for (int k = 0; k < kPerThread; k++) {
        const long i = start + threadIdx.x + (long)k * kThreads;
        ms[k] = 0.0f;
        vs[k] = 0.0f;
        if (i >= end) continue;
        float m = __fmul_rn(qm[m_codes[i]], m_scale), v = __fmul_rn(qv[v_codes[i]], v_scale);
        const float p = element_step(params[i], grads[i], m, v, decay, beta1, beta2, eps, step_size, bias2_sqrt);
        params[i] = p;
        if (kWriteCopy) copy[i] = from_float<Half>(p);
        ms[k] = m;
        vs[k] = v;
        m_max = absmax_step(m_max, m);
        v_max = absmax_step(v_max, v);
    }
    block_max2(m_max, v_max, tree_m, tree_v);
    for (int k = 0; k < kPerThread; k++) {
        const long i = start + threadIdx.x + (long)k * kThreads;
        if (i >= end) continue;
        m_codes[i] = quantize(qm, ms[k], m_max);
        v_codes[i] = quantize(qv, vs[k], v_max);
    }
    if (threadIdx.x == 0) {
        m_absmax[b] = m_max;
        v_absmax[b] = v_max;
    }
}

__device__ __forceinline__ void step(float* params, const float* grads, unsigned char* m, unsigned char* v,
                                     float* m_absmax, float* v_absmax, const float* m_map, const float* v_map, long n,
                                     int first_block, float lr, float beta1, float beta2, float eps, float weight_decay,
                                     float step_size, float bias2_sqrt) {
    block_step<float, false>(params, (float*)nullptr, grads, m, v, m_absmax, v_absmax, m_map, v_map, n, first_block,
                             lr, beta1, beta2, eps, weight_decay, step_size, bias2_sqrt);
}

template <typename Half>
__device__ __forceinline__ void step_mixed(float* master, Half* copy, const float* grads, unsigned char* m,
                                           unsigned char* v, float* m_absmax, float* v_absmax, const float* m_map,
                                           const float* v_map, long n, int first_block, float lr, float beta1,
                                           float beta2, float eps, float weight_decay, float step_size,
                                           float bias2_sqrt) {
    block_step<Half, true>(master, copy, grads, m, v, m_absmax, v_absmax, m_map, v_map, n, first_block, lr, beta1,
                           beta2, eps, weight_decay, step_size, bias2_sqrt);
}

}  // namespace adamw8bit
}  // namespace engine
