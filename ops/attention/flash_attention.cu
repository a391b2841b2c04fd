// Attention in the flash-attention manner, fp32 arithmetic: tiled over keys with an online softmax, so no T×T matrix is ever
// stored; backward recomputes the probabilities from the saved log-sum-exp (FA2's split: one kernel for dQ walking
// key tiles, which also sums each row's delta = Σ_u P·dP, then one for dK/dV walking query tiles), with no atomics,
// so every sum has one fixed order.
// CPU twin: ops/attention/CpuAttention.cs, ForwardLse and BackwardLse.
//
// Layout: qkv (B, T, 3C) packed q | k | v, head h at [h·hs, (h+1)·hs); out (B, T, C); lse (B, H, T).
// causal: key u is visible to query t when u ≤ t. key_valid (B, T) may be null; where 0 the key is masked out
// (BERT's padding). A query with no visible key gets output 0 and lse = +inf (so backward sees p = 0).
// bias (H, T, T) may be null: T5's relative position bias, added to the scaled scores; its gradient (summed over the
// batch, in batch order) comes from flash_attention_bias_grad_f32.
// One thread owns one row (a query, or a key in the dK/dV kernel); the block's TILE rows share K/V (or Q/dO)
// tiles in shared memory. Rows are padded by one float in shared memory to avoid bank conflicts.
// qkv, out, dout, dqkv and bias are Value, the training precision (float, bf16 or fp16: widened as they are loaded,
// rounded once as they are stored); lse, delta, the shared tiles, every sum and dbias (a gradient that collects every
// layer's share) are fp32.
#include "common.cuh"

namespace engine {
namespace flash {

constexpr int TILE = 32;  // rows per block and keys (or queries) per shared tile

__device__ __forceinline__ long row_offset(int b, int t, int T, int C) { return ((long)b * T + t) * 3 * C; }

__device__ __forceinline__ bool visible(int t, int u, int causal, const int* key_valid, int b, int T) {
    if (causal && u > t) return false;
    return key_valid == nullptr || key_valid[(long)b * T + u] != 0;
}

// grid (ceil(T / TILE), B·H), block TILE threads, dynamic shared: (4·TILE)·(hs + 1) floats
// (this thread's q and accumulator rows, the K and V tiles).
template <typename Value>
__device__ __forceinline__ void forward(Value* out, float* lse, const Value* qkv, const int* key_valid, int B, int T,
                                        int C, int H, int causal, float scale, const Value* bias) {
    ENGINE_DYNAMIC_SHARED(float, shared);
    const int hs = C / H, stride = hs + 1;
    float* q_rows = shared;
    float* acc_rows = q_rows + TILE * stride;
    float* k_tile = acc_rows + TILE * stride;
    float* v_tile = k_tile + TILE * stride;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int t = blockIdx.x * TILE + threadIdx.x;
    const bool active = t < T;
    float* q = q_rows + threadIdx.x * stride;
    float* acc = acc_rows + threadIdx.x * stride;
    if (active) {
        const Value* src = qkv + row_offset(b, t, T, C) + (long)h * hs;
        for (int i = 0; i < hs; i++) { q[i] = to_float(src[i]); acc[i] = 0.0f; }
    }
    float m = -INFINITY, l = 0.0f;
    const int last_key = causal ? min(T, (blockIdx.x + 1) * TILE) : T;  // no tile past the block's last query
    float s[TILE];
    for (int tile = 0; tile < last_key; tile += TILE) {
        __syncthreads();
        for (int j = threadIdx.x; j < TILE * hs; j += TILE) {  // load the tile's keys and values
            const int r = j / hs, i = j % hs, u = tile + r;
            const long at = u < T ? row_offset(b, u, T, C) + (long)h * hs + i : 0;
            k_tile[r * stride + i] = u < T ? to_float(qkv[at + C]) : 0.0f;
            v_tile[r * stride + i] = u < T ? to_float(qkv[at + 2 * C]) : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        float tile_max = -INFINITY;
        for (int r = 0; r < TILE; r++) {
            const int u = tile + r;
            if (u < T && visible(t, u, causal, key_valid, b, T)) {
                float dot = 0.0f;
                for (int i = 0; i < hs; i++) dot += q[i] * k_tile[r * stride + i];
                s[r] = dot * scale + (bias != nullptr ? to_float(bias[((long)h * T + t) * T + u]) : 0.0f);
                tile_max = fmaxf(tile_max, s[r]);
            } else {
                s[r] = -INFINITY;
            }
        }
        if (tile_max == -INFINITY) continue;  // nothing visible in this tile
        const float m_new = fmaxf(m, tile_max);
        const float correction = expf(m - m_new);  // 0 on the first visible tile (m = -inf)
        l *= correction;
        for (int i = 0; i < hs; i++) acc[i] *= correction;
        for (int r = 0; r < TILE; r++) {
            if (s[r] == -INFINITY) continue;
            const float p = expf(s[r] - m_new);
            l += p;
            for (int i = 0; i < hs; i++) acc[i] += p * v_tile[r * stride + i];
        }
        m = m_new;
    }
    if (!active) return;
    Value* o = out + ((long)b * T + t) * C + (long)h * hs;
    const float inverse = l > 0.0f ? 1.0f / l : 0.0f;
    for (int i = 0; i < hs; i++) o[i] = from_float<Value>(acc[i] * inverse);
    lse[(long)bh * T + t] = l > 0.0f ? m + logf(l) : INFINITY;
}

// delta[b,h,t] = Σ_i dO[t,i]·O[t,i], which equals the row sum Σ_u P·dP only for an unrounded O: the tensor-core
// kernels (flash_attention_wmma.cu, which round P and dS to bf16 anyway) take it; the kernels here sum Σ_u P·dP
// themselves (backward_q). Thread per (t, bh).
template <typename Value>
__device__ __forceinline__ void delta(float* delta, const Value* out, const Value* dout, int B, int T, int C, int H) {
    const long n = (long)B * H * T;
    const int hs = C / H;
    for (long k = global_thread_index(); k < n; k += grid_stride()) {
        const int t = (int)(k % T), bh = (int)(k / T), b = bh / H, h = bh % H;
        const long at = ((long)b * T + t) * C + (long)h * hs;
        float sum = 0.0f;
        for (int i = 0; i < hs; i++) sum += to_float(dout[at + i]) * to_float(out[at + i]);
        delta[k] = sum;
    }
}

// dK[u] += scale·Σ_t dS[t,u]·q_t and dV[u] += Σ_t P[t,u]·dO_t, with P = exp(q_t·k_u·scale + bias − lse_t) and
// dS = P·(dO_t·v_u − delta_t). grid (ceil(T / TILE), B·H): thread owns key u; shared: k, v, dk, dv rows of the
// block's keys and the q and dO tiles: 6·TILE·(hs + 1) floats, plus 2·TILE for the tile's lse and delta.
template <typename Value>
__device__ __forceinline__ void backward_kv(Value* dqkv, const Value* qkv, const Value* dout, const float* lse,
                                            const float* delta, const int* key_valid, int B, int T, int C, int H,
                                            int causal, float scale, const Value* bias) {
    ENGINE_DYNAMIC_SHARED(float, shared);
    const int hs = C / H, stride = hs + 1;
    float* k_rows = shared;
    float* v_rows = k_rows + TILE * stride;
    float* dk_rows = v_rows + TILE * stride;
    float* dv_rows = dk_rows + TILE * stride;
    float* q_tile = dv_rows + TILE * stride;
    float* do_tile = q_tile + TILE * stride;
    float* lse_tile = do_tile + TILE * stride;
    float* delta_tile = lse_tile + TILE;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int u = blockIdx.x * TILE + threadIdx.x;
    const bool active = u < T && (key_valid == nullptr || key_valid[(long)b * T + u] != 0);
    float* k = k_rows + threadIdx.x * stride;
    float* v = v_rows + threadIdx.x * stride;
    float* dk = dk_rows + threadIdx.x * stride;
    float* dv = dv_rows + threadIdx.x * stride;
    if (u < T) {
        const Value* src = qkv + row_offset(b, u, T, C) + (long)h * hs;
        for (int i = 0; i < hs; i++) { k[i] = to_float(src[C + i]); v[i] = to_float(src[2 * C + i]); dk[i] = 0.0f; dv[i] = 0.0f; }
    }
    const int first_query = causal ? blockIdx.x * TILE : 0;  // queries before the block's first key see none of it
    for (int tile = first_query - first_query % TILE; tile < T; tile += TILE) {
        __syncthreads();
        for (int j = threadIdx.x; j < TILE * hs; j += TILE) {
            const int r = j / hs, i = j % hs, t = tile + r;
            q_tile[r * stride + i] = t < T ? to_float(qkv[row_offset(b, t, T, C) + (long)h * hs + i]) : 0.0f;
            do_tile[r * stride + i] = t < T ? to_float(dout[((long)b * T + t) * C + (long)h * hs + i]) : 0.0f;
        }
        if (threadIdx.x < TILE) {
            const int t = tile + threadIdx.x;
            lse_tile[threadIdx.x] = t < T ? lse[(long)bh * T + t] : INFINITY;
            delta_tile[threadIdx.x] = t < T ? delta[(long)bh * T + t] : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        for (int r = 0; r < TILE; r++) {
            const int t = tile + r;
            if (t >= T || (causal && u > t) || lse_tile[r] == INFINITY) continue;
            const float* q = q_tile + r * stride;
            const float* d_o = do_tile + r * stride;
            float dot = 0.0f, dp = 0.0f;
            for (int i = 0; i < hs; i++) { dot += q[i] * k[i]; dp += d_o[i] * v[i]; }
            const float b_tu = bias != nullptr ? to_float(bias[((long)h * T + t) * T + u]) : 0.0f;
            const float p = expf(dot * scale + b_tu - lse_tile[r]);
            const float ds = p * (dp - delta_tile[r]) * scale;
            for (int i = 0; i < hs; i++) { dv[i] += p * d_o[i]; dk[i] += ds * q[i]; }
        }
    }
    if (u >= T) return;
    Value* dst = dqkv + row_offset(b, u, T, C) + (long)h * hs;
    for (int i = 0; i < hs; i++) {
        dst[C + i] = from_float<Value>(to_float(dst[C + i]) + dk[i]);
        dst[2 * C + i] = from_float<Value>(to_float(dst[2 * C + i]) + dv[i]);
    }
}

// dQ[t] += scale·Σ_u dS[t,u]·k_u, with dS = P·(dP − delta_t) and delta_t = Σ_u P[t,u]·dP[t,u], which this kernel
// sums from the recomputed probabilities and writes for the dK/dV and bias-gradient kernels (launched after it).
// Not dO·O: O is stored in the values' precision, and dO·round(O) is off Σ P·dP by about |dO|·ulp(O), which moves
// every dS of the row (their sum is no longer 0) and so dQ, dK and the bias gradient by far more than the one
// rounding of a 16-bit gradient. delta is known only after the last key, so one pass sums two things,
// Σ_u P·dP·k_u and Σ_u P·k_u, and dQ += scale·(the first − delta·the second).
// grid (ceil(T / TILE), B·H): thread owns query t; shared: q, dO and the two sums' rows of the block's queries and
// the K and V tiles: 6·TILE·(hs + 1) floats.
template <typename Value>
__device__ __forceinline__ void backward_q(Value* dqkv, float* delta, const Value* qkv, const Value* dout,
                                           const float* lse, const int* key_valid, int B, int T, int C, int H,
                                           int causal, float scale, const Value* bias) {
    ENGINE_DYNAMIC_SHARED(float, shared);
    const int hs = C / H, stride = hs + 1;
    float* q_rows = shared;
    float* do_rows = q_rows + TILE * stride;
    float* pdpk_rows = do_rows + TILE * stride;
    float* pk_rows = pdpk_rows + TILE * stride;
    float* k_tile = pk_rows + TILE * stride;
    float* v_tile = k_tile + TILE * stride;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int t = blockIdx.x * TILE + threadIdx.x;
    const float my_lse = t < T ? lse[(long)bh * T + t] : INFINITY;
    const bool active = t < T && my_lse != INFINITY;
    float* q = q_rows + threadIdx.x * stride;
    float* d_o = do_rows + threadIdx.x * stride;
    float* pdpk = pdpk_rows + threadIdx.x * stride;  // Σ_u P·dP·k_u
    float* pk = pk_rows + threadIdx.x * stride;      // Σ_u P·k_u
    float row_delta = 0.0f;                          // Σ_u P·dP (0 for a row with no visible key)
    if (t < T) {
        const Value* src = qkv + row_offset(b, t, T, C) + (long)h * hs;
        const Value* g = dout + ((long)b * T + t) * C + (long)h * hs;
        for (int i = 0; i < hs; i++) { q[i] = to_float(src[i]); d_o[i] = to_float(g[i]); pdpk[i] = 0.0f; pk[i] = 0.0f; }
    }
    const int last_key = causal ? min(T, (blockIdx.x + 1) * TILE) : T;
    for (int tile = 0; tile < last_key; tile += TILE) {
        __syncthreads();
        for (int j = threadIdx.x; j < TILE * hs; j += TILE) {
            const int r = j / hs, i = j % hs, u = tile + r;
            const long at = u < T ? row_offset(b, u, T, C) + (long)h * hs + i : 0;
            k_tile[r * stride + i] = u < T ? to_float(qkv[at + C]) : 0.0f;
            v_tile[r * stride + i] = u < T ? to_float(qkv[at + 2 * C]) : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        for (int r = 0; r < TILE; r++) {
            const int u = tile + r;
            if (u >= T || !visible(t, u, causal, key_valid, b, T)) continue;
            float dot = 0.0f, dp = 0.0f;
            for (int i = 0; i < hs; i++) { dot += q[i] * k_tile[r * stride + i]; dp += d_o[i] * v_tile[r * stride + i]; }
            const float b_tu = bias != nullptr ? to_float(bias[((long)h * T + t) * T + u]) : 0.0f;
            const float p = expf(dot * scale + b_tu - my_lse);
            const float p_dp = p * dp;
            row_delta += p_dp;
            for (int i = 0; i < hs; i++) {
                const float k_i = k_tile[r * stride + i];
                pdpk[i] += p_dp * k_i;
                pk[i] += p * k_i;
            }
        }
    }
    if (t >= T) return;
    delta[(long)bh * T + t] = row_delta;
    Value* dst = dqkv + row_offset(b, t, T, C) + (long)h * hs;
    for (int i = 0; i < hs; i++) dst[i] = from_float<Value>(to_float(dst[i]) + scale * (pdpk[i] - row_delta * pk[i]));
}

// dbias[h,t,u] += Σ_b dS[b,h,t,u] (batch in order: deterministic, no atomics), with dS = P·(dO_t·v_u − delta_t) and
// P = exp(q_t·k_u·scale + bias − lse_t) recomputed; the score gradient before the scale, as the bias is added after it.
// grid (ceil(T / TILE), H), block TILE threads: thread owns query t of head h and, for one key tile at a time, keeps
// its TILE sums in registers while the batch goes by in order; the tile's K and V rows and the block's q and dO rows
// of each batch row are staged in shared memory: 4·TILE·(hs + 1) floats. Hidden pairs add nothing.
template <typename Value>
__device__ __forceinline__ void bias_grad(float* dbias, const Value* qkv, const Value* dout, const float* lse,
                                          const float* delta, const int* key_valid, const Value* bias, int B, int T,
                                          int C, int H, int causal, float scale) {
    ENGINE_DYNAMIC_SHARED(float, shared);
    const int hs = C / H, stride = hs + 1, h = blockIdx.y;
    const int t = blockIdx.x * TILE + threadIdx.x;
    float* q_rows = shared;
    float* do_rows = q_rows + TILE * stride;
    float* k_tile = do_rows + TILE * stride;
    float* v_tile = k_tile + TILE * stride;
    const float* q = q_rows + threadIdx.x * stride;
    const float* d_o = do_rows + threadIdx.x * stride;
    const int last_key = causal ? min(T, (blockIdx.x + 1) * TILE) : T;  // no key past the block's last query
    for (int tile = 0; tile < last_key; tile += TILE) {
        float acc[TILE];
#pragma unroll
        for (int r = 0; r < TILE; r++) acc[r] = 0.0f;
        for (int b = 0; b < B; b++) {
            __syncthreads();  // the last batch row's tiles are no longer read
            for (int j = threadIdx.x; j < TILE * hs; j += TILE) {
                const int r = j / hs, i = j % hs, u = tile + r, tq = blockIdx.x * TILE + r;
                const long key_at = u < T ? row_offset(b, u, T, C) + (long)h * hs + i : 0;
                k_tile[r * stride + i] = u < T ? to_float(qkv[key_at + C]) : 0.0f;
                v_tile[r * stride + i] = u < T ? to_float(qkv[key_at + 2 * C]) : 0.0f;
                q_rows[r * stride + i] = tq < T ? to_float(qkv[row_offset(b, tq, T, C) + (long)h * hs + i]) : 0.0f;
                do_rows[r * stride + i] = tq < T ? to_float(dout[((long)b * T + tq) * C + (long)h * hs + i]) : 0.0f;
            }
            __syncthreads();
            if (t >= T) continue;
            const long bh = (long)b * H + h;
            const float row_lse = lse[bh * T + t];
            if (row_lse == INFINITY) continue;  // no visible key in this row: P = 0
            const float row_delta = delta[bh * T + t];
#pragma unroll
            for (int r = 0; r < TILE; r++) {
                const int u = tile + r;
                if (u >= T || !visible(t, u, causal, key_valid, b, T)) continue;
                float dot = 0.0f, dp = 0.0f;
                for (int i = 0; i < hs; i++) { dot += q[i] * k_tile[r * stride + i]; dp += d_o[i] * v_tile[r * stride + i]; }
                const float p = expf(dot * scale + to_float(bias[((long)h * T + t) * T + u]) - row_lse);
                acc[r] += p * (dp - row_delta);
            }
        }
        if (t >= T) continue;
#pragma unroll
        for (int r = 0; r < TILE; r++) {
            const int u = tile + r;
            if (u < T && (!causal || u <= t)) dbias[((long)h * T + t) * T + u] += acc[r];
        }
    }
}

}  // namespace flash
}  // namespace engine
