// Multi-head self-attention over packed qkv (B, T, 3C), probabilities (B, H, T, T) kept for backward — the same
// contract as the CPU twins engine/Backends/Cpu/Ops/Attention.cs and Kernels/CpuAttention.cs. This is the
// straightforward fp32 version the GPU tests check first; the tiled flash-attention kernels (online softmax, no
// T×T matrix) replace it for speed. Every sum has a fixed order and no atomics: runs are bit-identical.
#include "common.cuh"

using namespace engine;

namespace engine {
namespace attention {
__device__ __forceinline__ const float* q_row(const float* qkv, int b, int t, int h, int T, int C, int hs) {
    return qkv + ((long)b * T + t) * 3 * C + (long)h * hs;
}
}  // namespace attention
}  // namespace engine

using namespace engine::attention;

// Block per (t, b·H + h); threads over keys u. Writes the probability row (zeros past t when causal).
extern "C" __global__ void attention_probabilities_f32(float* probs, const float* qkv, int B, int T, int C, int H,
                                                       int causal, float scale) {
    __shared__ float scratch[32];
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H, hs = C / H;
    const int last = causal ? t : T - 1;
    const float* q = q_row(qkv, b, t, h, T, C, hs);
    float* row = probs + ((long)bh * T + t) * T;
    float local_max = -INFINITY;
    for (int u = threadIdx.x; u <= last; u += blockDim.x) {
        const float* k = q_row(qkv, b, u, h, T, C, hs) + C;
        float dot = 0.0f;
        for (int i = 0; i < hs; i++) dot += q[i] * k[i];
        row[u] = dot * scale;
        local_max = fmaxf(local_max, dot * scale);
    }
    local_max = warp_max(local_max);
    __syncthreads();
    if (threadIdx.x % WARP_SIZE == 0) scratch[threadIdx.x / WARP_SIZE] = local_max;
    __syncthreads();
    const int warps = blockDim.x / WARP_SIZE;
    const float max = warp_max(threadIdx.x % WARP_SIZE < warps ? scratch[threadIdx.x % WARP_SIZE] : -INFINITY);
    float local_sum = 0.0f;
    for (int u = threadIdx.x; u <= last; u += blockDim.x) { const float e = expf(row[u] - max); row[u] = e; local_sum += e; }
    const float inverse = 1.0f / block_sum(local_sum, scratch);
    for (int u = threadIdx.x; u < T; u += blockDim.x) row[u] = u <= last ? row[u] * inverse : 0.0f;
}

// out[b,t,h·hs + i] = Σ_u P[t,u]·v_u[i]. Block per (t, b·H + h); threads over i.
extern "C" __global__ void attention_output_f32(float* out, const float* probs, const float* qkv, int B, int T, int C,
                                                int H, int causal) {
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H, hs = C / H;
    const int last = causal ? t : T - 1;
    const float* row = probs + ((long)bh * T + t) * T;
    for (int i = threadIdx.x; i < hs; i += blockDim.x) {
        float acc = 0.0f;
        for (int u = 0; u <= last; u++) acc += row[u] * q_row(qkv, b, u, h, T, C, hs)[2 * C + i];
        out[((long)b * T + t) * C + (long)h * hs + i] = acc;
    }
}

// dS[t,u] = P[t,u]·(dP[t,u] − Σ_u' P[t,u']·dP[t,u'])·scale with dP[t,u] = dO_t·v_u; zeros past t when causal.
// Block per (t, b·H + h); threads over u.
extern "C" __global__ void attention_backward_scores_f32(float* dscores, const float* dout, const float* qkv,
                                                         const float* probs, int B, int T, int C, int H, int causal,
                                                         float scale) {
    __shared__ float scratch[32];
    const int t = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H, hs = C / H;
    const int last = causal ? t : T - 1;
    const float* dO = dout + ((long)b * T + t) * C + (long)h * hs;
    const float* row = probs + ((long)bh * T + t) * T;
    float* ds = dscores + ((long)bh * T + t) * T;
    float local = 0.0f;
    for (int u = threadIdx.x; u <= last; u += blockDim.x) {
        const float* v = q_row(qkv, b, u, h, T, C, hs) + 2 * C;
        float dp = 0.0f;
        for (int i = 0; i < hs; i++) dp += dO[i] * v[i];
        ds[u] = dp;
        local += row[u] * dp;
    }
    const float row_dot = block_sum(local, scratch);
    for (int u = threadIdx.x; u < T; u += blockDim.x) ds[u] = u <= last ? row[u] * (ds[u] - row_dot) * scale : 0.0f;
}

// dQ[t] += Σ_u dS[t,u]·k_u (block per (t, bh)); dK[u] += Σ_t dS[t,u]·q_t and dV[u] += Σ_t P[t,u]·dO_t
// (block per (u, bh)). Threads over the head dimension i; t and u run in ascending order.
extern "C" __global__ void attention_backward_qkv_f32(float* dqkv, const float* dout, const float* qkv,
                                                      const float* probs, const float* dscores, int B, int T, int C,
                                                      int H, int causal) {
    const int s = blockIdx.x, bh = blockIdx.y, b = bh / H, h = bh % H, hs = C / H;
    const float* ds = dscores + (long)bh * T * T;
    const float* p = probs + (long)bh * T * T;
    float* dq = dqkv + ((long)b * T + s) * 3 * C + (long)h * hs;
    const int last = causal ? s : T - 1;   // keys u ≤ s for the query row s
    const int first = causal ? s : 0;      // queries t ≥ s for the key row s
    for (int i = threadIdx.x; i < hs; i += blockDim.x) {
        float gq = 0.0f;
        for (int u = 0; u <= last; u++) gq += ds[(long)s * T + u] * q_row(qkv, b, u, h, T, C, hs)[C + i];
        dq[i] += gq;
        float gk = 0.0f, gv = 0.0f;
        for (int t = first; t < T; t++) {
            gk += ds[(long)t * T + s] * q_row(qkv, b, t, h, T, C, hs)[i];
            gv += p[(long)t * T + s] * dout[((long)b * T + t) * C + (long)h * hs + i];
        }
        dq[C + i] += gk;
        dq[2 * C + i] += gv;
    }
}
