// Multi-head attention that keeps the probabilities (B, H, Tq, Tk) for backward, with the same contract as the CPU
// twin ops/attention/Attention.cs and engine/Tensors/AttentionShape.cs: q, k, v are separate pointers
// with row strides (packed self-attention passes qkv, qkv + C, qkv + 2C with stride 3C); key_mask (B, Tk) hides keys
// where 0; position_bias (H, Tq, Tk) is added to the scores (T5); hidden entries are stored as 0 and a query with no
// visible key outputs 0. The flash-style kernels (flash_attention.cu) replace this where no bias gradient is needed.
// Every sum has a fixed order and no atomics: runs are bit-identical.
// q, k, v, the output, the probabilities, the position bias and their gradients are Value, the training precision
// (float, bf16 or fp16): widened as they are loaded, rounded once as they are stored. The position bias's gradient
// is fp32 (it sums every layer's share) and so is the score gradient dS, a scratch buffer. The forward keeps each
// probability row in fp32 shared memory and computes the output from it, so the output is that of fp32
// probabilities (as the CPU's staged op computes it) and only the saved row is rounded.
#include "common.cuh"

namespace engine {
namespace attention {

struct Shape {
    int B, Tq, Tk, H, hs, q_stride, kv_stride, causal;
    float scale;
    __device__ int key_end(int t) const { return causal ? t + 1 : Tk; }
};

// Block per (t, b·H + h), 128 threads; dynamic shared memory: Tk floats (the row in fp32). Threads over keys u
// for the scores, the softmax and the saved probability row, then over i for out[b, t, h·hs + i] = Σ_u P[t,u]·v_u[i].
template <typename Value>
__device__ __forceinline__ void forward(Value* out, Value* probs, const Value* q, const Value* k, const Value* v,
                                        const int* key_mask, const Value* position_bias, Shape s) {
    ENGINE_DYNAMIC_SHARED(float, p_row);
    __shared__ float scratch[32];
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const int end = s.key_end(t);
    const Value* q_row = q + ((long)b * s.Tq + t) * s.q_stride + (long)h * s.hs;
    Value* row = probs + ((long)bh * s.Tq + t) * s.Tk;
    float local_max = -INFINITY;
    for (int u = threadIdx.x; u < end; u += blockDim.x) {
        float score = -INFINITY;
        if (key_mask == nullptr || key_mask[(long)b * s.Tk + u] != 0) {
            const Value* k_row = k + ((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs;
            float dot = 0.0f;
            for (int i = 0; i < s.hs; i++) dot += to_float(q_row[i]) * to_float(k_row[i]);
            score = dot * s.scale + (position_bias ? to_float(position_bias[((long)h * s.Tq + t) * s.Tk + u]) : 0.0f);
        }
        p_row[u] = score;
        local_max = fmaxf(local_max, score);
    }
    local_max = warp_max(local_max);
    __syncthreads();
    if (threadIdx.x % WARP_SIZE == 0) scratch[threadIdx.x / WARP_SIZE] = local_max;
    __syncthreads();
    const int warps = blockDim.x / WARP_SIZE;
    const float max = warp_max(threadIdx.x % WARP_SIZE < warps ? scratch[threadIdx.x % WARP_SIZE] : -INFINITY);
    float local_sum = 0.0f;
    for (int u = threadIdx.x; u < end; u += blockDim.x) {
        const float e = p_row[u] == -INFINITY ? 0.0f : expf(p_row[u] - max);
        p_row[u] = e;
        local_sum += e;
    }
    const float sum = block_sum(local_sum, scratch);
    const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int u = threadIdx.x; u < s.Tk; u += blockDim.x) {
        const float p = u < end ? p_row[u] * inverse : 0.0f;
        if (u < end) p_row[u] = p;
        row[u] = from_float<Value>(p);
    }
    __syncthreads(); // the whole fp32 row is written before any thread sums over it
    for (int i = threadIdx.x; i < s.hs; i += blockDim.x) {
        float acc = 0.0f;
        for (int u = 0; u < end; u++) acc += p_row[u] * to_float(v[((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs + i]);
        out[((long)b * s.Tq + t) * s.H * s.hs + (long)h * s.hs + i] = from_float<Value>(acc);
    }
}

// dS[t,u] = P[t,u]·(dP[t,u] − Σ_u' P[t,u']·dP[t,u']) with dP = dO_t·v_u (unscaled: the scale is applied where dS
// meets q and k; the bias gradient takes dS as it is). Block per (t, bh); threads over u.
template <typename Value>
__device__ __forceinline__ void backward_scores(float* dscores, const Value* dout, const Value* v, const Value* probs,
                                                Shape s) {
    __shared__ float scratch[32];
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const int end = s.key_end(t);
    const Value* dO = dout + ((long)b * s.Tq + t) * s.H * s.hs + (long)h * s.hs;
    const Value* row = probs + ((long)bh * s.Tq + t) * s.Tk;
    float* ds = dscores + ((long)bh * s.Tq + t) * s.Tk;
    float local = 0.0f;
    for (int u = threadIdx.x; u < end; u += blockDim.x) {
        const Value* v_row = v + ((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs;
        float dp = 0.0f;
        for (int i = 0; i < s.hs; i++) dp += to_float(dO[i]) * to_float(v_row[i]);
        ds[u] = dp;
        local += to_float(row[u]) * dp;
    }
    const float row_dot = block_sum(local, scratch);
    for (int u = threadIdx.x; u < s.Tk; u += blockDim.x) ds[u] = u < end ? to_float(row[u]) * (ds[u] - row_dot) : 0.0f;
}

// dQ[t] += scale·Σ_u dS[t,u]·k_u. Block per (t, bh); threads over i.
template <typename Value>
__device__ __forceinline__ void backward_query(Value* dq, const Value* k, const float* dscores, Shape s) {
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const float* ds = dscores + ((long)bh * s.Tq + t) * s.Tk;
    const int end = s.key_end(t);
    for (int i = threadIdx.x; i < s.hs; i += blockDim.x) {
        float g = 0.0f;
        for (int u = 0; u < end; u++) g += ds[u] * to_float(k[((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs + i]);
        Value& d = dq[((long)b * s.Tq + t) * s.q_stride + (long)h * s.hs + i];
        d = from_float<Value>(to_float(d) + g * s.scale);
    }
}

// dK[u] += scale·Σ_t dS[t,u]·q_t and dV[u] += Σ_t P[t,u]·dO_t. Block per (u, bh); threads over i; t ascending.
template <typename Value>
__device__ __forceinline__ void backward_key_value(Value* dk, Value* dv, const Value* q, const Value* dout,
                                                   const Value* probs, const float* dscores, Shape s) {
    const int u = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const float* ds = dscores + (long)bh * s.Tq * s.Tk;
    const Value* p = probs + (long)bh * s.Tq * s.Tk;
    const int first = s.causal ? u : 0;
    for (int i = threadIdx.x; i < s.hs; i += blockDim.x) {
        float gk = 0.0f, gv = 0.0f;
        for (int t = first; t < s.Tq; t++) {
            gk += ds[(long)t * s.Tk + u] * to_float(q[((long)b * s.Tq + t) * s.q_stride + (long)h * s.hs + i]);
            gv += to_float(p[(long)t * s.Tk + u]) * to_float(dout[((long)b * s.Tq + t) * s.H * s.hs + (long)h * s.hs + i]);
        }
        const long at = ((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs + i;
        dk[at] = from_float<Value>(to_float(dk[at]) + gk * s.scale);
        dv[at] = from_float<Value>(to_float(dv[at]) + gv);
    }
}

// dBias[h,t,u] += Σ_b dS[b,h,t,u], batch in order. Grid-stride over (h, t, u). fp32 in every precision: the bias
// gradient collects every layer's share (T5 shares one bias across a stack), so it is kept as a gradient, unrounded.
__device__ __forceinline__ void backward_bias(float* dbias, const float* dscores, Shape s) {
    const long n = (long)s.H * s.Tq * s.Tk;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long h = i / ((long)s.Tq * s.Tk), rest = i % ((long)s.Tq * s.Tk);
        float sum = 0.0f;
        for (int b = 0; b < s.B; b++) sum += dscores[((long)b * s.H + h) * s.Tq * s.Tk + rest];
        dbias[i] += sum;
    }
}

}  // namespace attention
}  // namespace engine
