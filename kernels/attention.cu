// Multi-head attention that keeps the probabilities (B, H, Tq, Tk) for backward, with the same contract as the CPU
// twin engine/Backends/Cpu/Ops/Attention.cs and engine/Tensors/AttentionShape.cs: q, k, v are separate pointers
// with row strides (packed self-attention passes qkv, qkv + C, qkv + 2C with stride 3C); key_mask (B, Tk) hides keys
// where 0; position_bias (H, Tq, Tk) is added to the scores (T5); hidden entries are stored as 0 and a query with no
// visible key outputs 0. The flash-style kernels (flash_attention.cu) replace this where no bias gradient is needed.
// Every sum has a fixed order and no atomics: runs are bit-identical.
#include "common.cuh"

using namespace engine;

namespace engine {
namespace attention {

struct Shape {
    int B, Tq, Tk, H, hs, q_stride, kv_stride, causal;
    float scale;
    __device__ int key_end(int t) const { return causal ? t + 1 : Tk; }
};

}  // namespace attention
}  // namespace engine

using namespace engine::attention;

// Block per (t, b·H + h); threads over keys u. Scores, softmax and the probability row.
extern "C" __global__ void attention_probabilities_f32(float* probs, const float* q, const float* k,
                                                       const int* key_mask, const float* position_bias, Shape s) {
    __shared__ float scratch[32];
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const int end = s.key_end(t);
    const float* q_row = q + ((long)b * s.Tq + t) * s.q_stride + (long)h * s.hs;
    float* row = probs + ((long)bh * s.Tq + t) * s.Tk;
    float local_max = -INFINITY;
    for (int u = threadIdx.x; u < end; u += blockDim.x) {
        float score = -INFINITY;
        if (key_mask == nullptr || key_mask[(long)b * s.Tk + u] != 0) {
            const float* k_row = k + ((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs;
            float dot = 0.0f;
            for (int i = 0; i < s.hs; i++) dot += q_row[i] * k_row[i];
            score = dot * s.scale + (position_bias ? position_bias[((long)h * s.Tq + t) * s.Tk + u] : 0.0f);
        }
        row[u] = score;
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
        const float e = row[u] == -INFINITY ? 0.0f : expf(row[u] - max);
        row[u] = e;
        local_sum += e;
    }
    const float sum = block_sum(local_sum, scratch);
    const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int u = threadIdx.x; u < s.Tk; u += blockDim.x) row[u] = u < end ? row[u] * inverse : 0.0f;
}

// out[b, t, h·hs + i] = Σ_u P[t,u]·v_u[i]. Block per (t, bh); threads over i.
extern "C" __global__ void attention_output_f32(float* out, const float* probs, const float* v, Shape s) {
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const int end = s.key_end(t);
    const float* row = probs + ((long)bh * s.Tq + t) * s.Tk;
    for (int i = threadIdx.x; i < s.hs; i += blockDim.x) {
        float acc = 0.0f;
        for (int u = 0; u < end; u++) acc += row[u] * v[((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs + i];
        out[((long)b * s.Tq + t) * s.H * s.hs + (long)h * s.hs + i] = acc;
    }
}

// dS[t,u] = P[t,u]·(dP[t,u] − Σ_u' P[t,u']·dP[t,u']) with dP = dO_t·v_u (unscaled: the scale is applied where dS
// meets q and k; the bias gradient takes dS as it is). Block per (t, bh); threads over u.
extern "C" __global__ void attention_backward_scores_f32(float* dscores, const float* dout, const float* v,
                                                         const float* probs, Shape s) {
    __shared__ float scratch[32];
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const int end = s.key_end(t);
    const float* dO = dout + ((long)b * s.Tq + t) * s.H * s.hs + (long)h * s.hs;
    const float* row = probs + ((long)bh * s.Tq + t) * s.Tk;
    float* ds = dscores + ((long)bh * s.Tq + t) * s.Tk;
    float local = 0.0f;
    for (int u = threadIdx.x; u < end; u += blockDim.x) {
        const float* v_row = v + ((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs;
        float dp = 0.0f;
        for (int i = 0; i < s.hs; i++) dp += dO[i] * v_row[i];
        ds[u] = dp;
        local += row[u] * dp;
    }
    const float row_dot = block_sum(local, scratch);
    for (int u = threadIdx.x; u < s.Tk; u += blockDim.x) ds[u] = u < end ? row[u] * (ds[u] - row_dot) : 0.0f;
}

// dQ[t] += scale·Σ_u dS[t,u]·k_u. Block per (t, bh); threads over i.
extern "C" __global__ void attention_backward_query_f32(float* dq, const float* k, const float* dscores, Shape s) {
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const float* ds = dscores + ((long)bh * s.Tq + t) * s.Tk;
    const int end = s.key_end(t);
    for (int i = threadIdx.x; i < s.hs; i += blockDim.x) {
        float g = 0.0f;
        for (int u = 0; u < end; u++) g += ds[u] * k[((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs + i];
        dq[((long)b * s.Tq + t) * s.q_stride + (long)h * s.hs + i] += g * s.scale;
    }
}

// dK[u] += scale·Σ_t dS[t,u]·q_t and dV[u] += Σ_t P[t,u]·dO_t. Block per (u, bh); threads over i; t ascending.
extern "C" __global__ void attention_backward_key_value_f32(float* dk, float* dv, const float* q, const float* dout,
                                                            const float* probs, const float* dscores, Shape s) {
    const int u = blockIdx.x, bh = blockIdx.y, b = bh / s.H, h = bh % s.H;
    const float* ds = dscores + (long)bh * s.Tq * s.Tk;
    const float* p = probs + (long)bh * s.Tq * s.Tk;
    const int first = s.causal ? u : 0;
    for (int i = threadIdx.x; i < s.hs; i += blockDim.x) {
        float gk = 0.0f, gv = 0.0f;
        for (int t = first; t < s.Tq; t++) {
            gk += ds[(long)t * s.Tk + u] * q[((long)b * s.Tq + t) * s.q_stride + (long)h * s.hs + i];
            gv += p[(long)t * s.Tk + u] * dout[((long)b * s.Tq + t) * s.H * s.hs + (long)h * s.hs + i];
        }
        const long at = ((long)b * s.Tk + u) * s.kv_stride + (long)h * s.hs + i;
        dk[at] += gk * s.scale;
        dv[at] += gv;
    }
}

// dBias[h,t,u] += Σ_b dS[b,h,t,u], batch in order. Grid-stride over (h, t, u).
extern "C" __global__ void attention_backward_bias_f32(float* dbias, const float* dscores, Shape s) {
    const long n = (long)s.H * s.Tq * s.Tk;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long h = i / ((long)s.Tq * s.Tk), rest = i % ((long)s.Tq * s.Tk);
        float sum = 0.0f;
        for (int b = 0; b < s.B; b++) sum += dscores[((long)b * s.H + h) * s.Tq * s.Tk + rest];
        dbias[i] += sum;
    }
}
