// Flash attention on tensor cores (WMMA, bf16 operands, fp32 accumulation): the same contract as
// flash_attention.cu's kernels (packed qkv (B, T, 3C), out (B, T, C), lse (B, H, T) = +inf for a query with no
// visible key, backward accumulating into dqkv, delta from flash_attention_delta_*), for head sizes that are
// multiples of 16 up to 128. Used by bf16 mixed precision, where q, k, v, dO are bf16 values, so loading them as bf16
// is exact. Two entries per kernel, by the storage of qkv, out, dout and dqkv: *_tc_bf16 reads and writes bf16
// storage (the arena under bf16), *_tc_f32 fp32 storage holding bf16 values (outputs rounded to bf16 only by the
// caller); the probabilities P and dS are rounded to bf16 for their products, as flash
// attention does in 16 bits, so results match the fp32 kernels to bf16 precision, not bit for bit.
// CPU twin: ops/attention/CpuAttention.cs (ForwardLse, BackwardLse).
//
// Blocks of 4 warps. Forward: a block owns 64 query rows of one (b, h), 16 per warp, and walks the keys in tiles of
// 64: S = Q·Kᵀ on tensor cores into shared memory, the online softmax by two lanes per row (each half of the tile's
// columns), P rounded to bf16, O (kept in shared memory, fp32) rescaled and then O += P·V on tensor cores.
// Backward (FA2's split, no atomics): one kernel per 64-key tile walks the query tiles for dK and dV, one per
// 64-query tile walks the key tiles for dQ.
#include "common.cuh"

#include <mma.h>

namespace engine {
namespace flash_tc {

using namespace nvcuda;

constexpr int TC_ROWS = 64;          // query rows (or keys, for dK/dV) per block, 16 per warp
constexpr int TC_TILE = 64;          // keys (or queries) per shared tile
constexpr int TC_THREADS = 128;      // 4 warps
constexpr int TC_FRAG = 16;          // the WMMA tile: 16 × 16 × 16

using FragA = wmma::fragment<wmma::matrix_a, TC_FRAG, TC_FRAG, TC_FRAG, __nv_bfloat16, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, TC_FRAG, TC_FRAG, TC_FRAG, __nv_bfloat16, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, TC_FRAG, TC_FRAG, TC_FRAG, __nv_bfloat16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, TC_FRAG, TC_FRAG, TC_FRAG, float>;

__device__ __forceinline__ bool tc_visible(int t, int u, int T, int causal, const int* key_valid, int b) {
    if (t >= T || u >= T || (causal && u > t)) return false;
    return key_valid == nullptr || key_valid[(long)b * T + u] != 0;
}

// rows × hs values of one head from packed qkv (column offset `col`), rows past T as 0, into bf16 shared memory.
template <typename Value>
__device__ __forceinline__ void load_bf16(__nv_bfloat16* dst, const Value* qkv, int b, int row0, int rows, int T,
                                          int C, int col, int hs) {
    for (int i = threadIdx.x; i < rows * hs; i += blockDim.x) {
        const int r = i / hs, d = i % hs, t = row0 + r;
        const float x = t < T ? to_float(qkv[((long)b * T + t) * 3 * C + col + d]) : 0.0f;
        dst[i] = __float2bfloat16_rn(x);
    }
}

// The same from an unpacked (B, T, C) tensor (dO), head h at column h·hs.
template <typename Value>
__device__ __forceinline__ void load_bf16_rows(__nv_bfloat16* dst, const Value* x, int b, int row0, int rows, int T,
                                               int C, int col, int hs) {
    for (int i = threadIdx.x; i < rows * hs; i += blockDim.x) {
        const int r = i / hs, d = i % hs, t = row0 + r;
        dst[i] = __float2bfloat16_rn(t < T ? to_float(x[((long)b * T + t) * C + col + d]) : 0.0f);
    }
}

// out[16 × 16·n] (row-major, ld) = a[16 × k] · bᵀ where b is n·16 rows of k (row-major, ld_b): "rows times rows".
__device__ __forceinline__ void rows_times_rows(float* out, int ld_out, const __nv_bfloat16* a, int ld_a,
                                                const __nv_bfloat16* b, int ld_b, int n_tiles, int k) {
    for (int j = 0; j < n_tiles; j++) {
        FragC acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int kk = 0; kk < k; kk += TC_FRAG) {
            FragA fa;
            FragBCol fb;  // bᵀ: element (kk, n) of the product's right operand is b[n][kk]
            wmma::load_matrix_sync(fa, a + kk, ld_a);
            wmma::load_matrix_sync(fb, b + (long)j * TC_FRAG * ld_b + kk, ld_b);
            wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(out + j * TC_FRAG, acc, ld_out, wmma::mem_row_major);
    }
}

// acc[16 × 16·n] (fp32 row-major in shared memory, ld_acc) += a[16 × k] · b[k × 16·n] (both row-major).
__device__ __forceinline__ void accumulate_product(float* acc_rows, int ld_acc, const __nv_bfloat16* a, int ld_a,
                                                   const __nv_bfloat16* b, int ld_b, int n_tiles, int k) {
    for (int j = 0; j < n_tiles; j++) {
        FragC acc;
        wmma::load_matrix_sync(acc, acc_rows + j * TC_FRAG, ld_acc, wmma::mem_row_major);
        for (int kk = 0; kk < k; kk += TC_FRAG) {
            FragA fa;
            FragBRow fb;
            wmma::load_matrix_sync(fa, a + kk, ld_a);
            wmma::load_matrix_sync(fb, b + (long)kk * ld_b + j * TC_FRAG, ld_b);
            wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(acc_rows + j * TC_FRAG, acc, ld_acc, wmma::mem_row_major);
    }
}

// Dynamic shared memory, in bytes, for head size hs (every region a multiple of 32 bytes, as WMMA needs).
__host__ __device__ constexpr long forward_shared_bytes(int hs) {
    return 2L * (TC_ROWS * hs + 2L * TC_TILE * hs + TC_ROWS * TC_TILE) + 4L * (TC_ROWS * TC_TILE + TC_ROWS * hs);
}
__host__ __device__ constexpr long backward_kv_shared_bytes(int hs) {
    return 2L * (4L * TC_TILE * hs + 2L * TC_ROWS * TC_TILE) + 4L * (2L * TC_ROWS * TC_TILE + 2L * TC_ROWS * hs + 2L * TC_TILE);
}
__host__ __device__ constexpr long backward_q_shared_bytes(int hs) {
    return 2L * (4L * TC_TILE * hs + TC_ROWS * TC_TILE) + 4L * (2L * TC_ROWS * TC_TILE + TC_ROWS * hs);
}

// grid (ceil(T / 64), B·H), block 128, dynamic shared forward_shared_bytes(hs).
template <typename Value>
__device__ __forceinline__ void forward(Value* out, float* lse, const Value* qkv, const int* key_valid, int B, int T,
                                        int C, int H, int causal, float scale) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    ENGINE_DYNAMIC_SHARED_ALIGNED(128, unsigned char, tc_shared);
    const int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, q0 = blockIdx.x * TC_ROWS;
    __nv_bfloat16* qs = reinterpret_cast<__nv_bfloat16*>(tc_shared);
    __nv_bfloat16* ks = qs + TC_ROWS * hs;
    __nv_bfloat16* vs = ks + TC_TILE * hs;
    __nv_bfloat16* ps = vs + TC_TILE * hs;
    float* ss = reinterpret_cast<float*>(ps + TC_ROWS * TC_TILE);
    float* os = ss + TC_ROWS * TC_TILE;
    const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    const int row = warp * TC_FRAG + lane / 2, half = lane % 2, t = q0 + row;  // two lanes per row

    load_bf16(qs, qkv, b, q0, TC_ROWS, T, C, h * hs, hs);
    for (int i = threadIdx.x; i < TC_ROWS * hs; i += blockDim.x) os[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    const int key_end = causal ? min(q0 + TC_ROWS, T) : T;
    for (int k0 = 0; k0 < key_end; k0 += TC_TILE) {
        __syncthreads();  // the last tile's K and V are no longer read (and Q, O are written, on the first pass)
        load_bf16(ks, qkv, b, k0, TC_TILE, T, C, C + h * hs, hs);
        load_bf16(vs, qkv, b, k0, TC_TILE, T, C, 2 * C + h * hs, hs);
        __syncthreads();
        rows_times_rows(ss + warp * TC_FRAG * TC_TILE, TC_TILE, qs + warp * TC_FRAG * hs, hs, ks, hs, TC_TILE / TC_FRAG, hs);
        __syncwarp();
        float* srow = ss + row * TC_TILE;
        float tile_max = -INFINITY;
        for (int c = half * TC_TILE / 2; c < (half + 1) * TC_TILE / 2; c++) {
            const float x = tc_visible(t, k0 + c, T, causal, key_valid, b) ? srow[c] * scale : -INFINITY;
            srow[c] = x;
            tile_max = fmaxf(tile_max, x);
        }
        tile_max = fmaxf(tile_max, __shfl_xor_sync(FULL_WARP_MASK, tile_max, 1));
        const float m_new = fmaxf(m, tile_max);
        const float alpha = m_new == -INFINITY ? 1.0f : expf(m - m_new);
        float sum = 0.0f;
        for (int c = half * TC_TILE / 2; c < (half + 1) * TC_TILE / 2; c++) {
            const float p = srow[c] == -INFINITY ? 0.0f : expf(srow[c] - m_new);
            ps[row * TC_TILE + c] = __float2bfloat16_rn(p);
            sum += p;
        }
        sum += __shfl_xor_sync(FULL_WARP_MASK, sum, 1);
        l = l * alpha + sum;
        m = m_new;
        for (int d = half * hs / 2; d < (half + 1) * hs / 2; d++) os[row * hs + d] *= alpha;
        __syncwarp();
        accumulate_product(os + warp * TC_FRAG * hs, hs, ps + warp * TC_FRAG * TC_TILE, TC_TILE, vs, hs, hs / TC_FRAG, TC_TILE);
        __syncwarp();
    }
    if (t < T) {
        const float inverse = l > 0.0f ? 1.0f / l : 0.0f;
        Value* o = out + ((long)b * T + t) * C + (long)h * hs;
        for (int d = half * hs / 2; d < (half + 1) * hs / 2; d++) o[d] = from_float<Value>(os[row * hs + d] * inverse);
        if (half == 0) lse[(long)bh * T + t] = l > 0.0f ? m + logf(l) : INFINITY;
    }
#endif
}

// dK, dV for 64 keys of one (b, h): grid (ceil(T / 64), B·H), block 128, dynamic shared backward_kv_shared_bytes(hs).
// Warp w owns keys w·16 … w·16 + 15 and computes, per query tile, Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ (16 keys × 64 queries),
// Pᵀ = exp(scale·Sᵀ − lse), dSᵀ = Pᵀ ∘ (dPᵀ − delta), then dV += Pᵀ·dO and dK += dSᵀ·Q (scaled at the end).
template <typename Value>
__device__ __forceinline__ void backward_kv(Value* dqkv, const Value* qkv, const Value* dout, const float* lse,
                                            const float* delta, const int* key_valid, int B, int T, int C, int H,
                                            int causal, float scale) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    ENGINE_DYNAMIC_SHARED_ALIGNED(128, unsigned char, tc_shared);
    const int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, k0 = blockIdx.x * TC_ROWS;
    __nv_bfloat16* ks = reinterpret_cast<__nv_bfloat16*>(tc_shared);
    __nv_bfloat16* vs = ks + TC_ROWS * hs;
    __nv_bfloat16* qs = vs + TC_ROWS * hs;
    __nv_bfloat16* dos = qs + TC_TILE * hs;
    __nv_bfloat16* pt = dos + TC_TILE * hs;          // Pᵀ in bf16 (TC_ROWS keys × TC_TILE queries)
    __nv_bfloat16* dst = pt + TC_ROWS * TC_TILE;        // dSᵀ in bf16
    float* st = reinterpret_cast<float*>(dst + TC_ROWS * TC_TILE);  // Sᵀ, then Pᵀ in fp32
    float* dpt = st + TC_ROWS * TC_TILE;                // dPᵀ
    float* dk = dpt + TC_ROWS * TC_TILE;
    float* dv = dk + TC_ROWS * hs;
    float* lse_tile = dv + TC_ROWS * hs;
    float* delta_tile = lse_tile + TC_TILE;
    const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    const int key_row = warp * TC_FRAG + lane / 2, half = lane % 2, u = k0 + key_row;

    load_bf16(ks, qkv, b, k0, TC_ROWS, T, C, C + h * hs, hs);
    load_bf16(vs, qkv, b, k0, TC_ROWS, T, C, 2 * C + h * hs, hs);
    for (int i = threadIdx.x; i < TC_ROWS * hs; i += blockDim.x) dk[i] = dv[i] = 0.0f;
    // Causal: queries before the tile's first key see none of its keys.
    for (int q0 = causal ? (k0 / TC_TILE) * TC_TILE : 0; q0 < T; q0 += TC_TILE) {
        __syncthreads();
        load_bf16(qs, qkv, b, q0, TC_TILE, T, C, h * hs, hs);
        load_bf16_rows(dos, dout, b, q0, TC_TILE, T, C, h * hs, hs);
        for (int i = threadIdx.x; i < TC_TILE; i += blockDim.x) {
            const int t = q0 + i;
            lse_tile[i] = t < T ? lse[(long)bh * T + t] : INFINITY;
            delta_tile[i] = t < T ? delta[(long)bh * T + t] : 0.0f;
        }
        __syncthreads();
        float* st_w = st + warp * TC_FRAG * TC_TILE;
        float* dpt_w = dpt + warp * TC_FRAG * TC_TILE;
        rows_times_rows(st_w, TC_TILE, ks + warp * TC_FRAG * hs, hs, qs, hs, TC_TILE / TC_FRAG, hs);
        rows_times_rows(dpt_w, TC_TILE, vs + warp * TC_FRAG * hs, hs, dos, hs, TC_TILE / TC_FRAG, hs);
        __syncwarp();
        for (int c = half * TC_TILE / 2; c < (half + 1) * TC_TILE / 2; c++) {
            const int t = q0 + c;
            const int at = key_row * TC_TILE + c;
            const float p = tc_visible(t, u, T, causal, key_valid, b) && lse_tile[c] != INFINITY
                                ? expf(st[at] * scale - lse_tile[c]) : 0.0f;
            pt[at] = __float2bfloat16_rn(p);
            dst[at] = __float2bfloat16_rn(p * (dpt[at] - delta_tile[c]));
        }
        __syncwarp();
        accumulate_product(dv + warp * TC_FRAG * hs, hs, pt + warp * TC_FRAG * TC_TILE, TC_TILE, dos, hs, hs / TC_FRAG, TC_TILE);
        accumulate_product(dk + warp * TC_FRAG * hs, hs, dst + warp * TC_FRAG * TC_TILE, TC_TILE, qs, hs, hs / TC_FRAG, TC_TILE);
        __syncwarp();
    }
    __syncwarp();
    if (u < T) {
        Value* row = dqkv + ((long)b * T + u) * 3 * C + (long)h * hs;
        for (int d = half * hs / 2; d < (half + 1) * hs / 2; d++) {
            row[C + d] = from_float<Value>(to_float(row[C + d]) + scale * dk[key_row * hs + d]);
            row[2 * C + d] = from_float<Value>(to_float(row[2 * C + d]) + dv[key_row * hs + d]);
        }
    }
#endif
}

// dQ for 64 queries of one (b, h): grid (ceil(T / 64), B·H), block 128, dynamic shared backward_q_shared_bytes(hs).
// Per key tile: S = Q·Kᵀ, dP = dO·Vᵀ, dS = P ∘ (dP − delta), dQ += dS·K (scaled at the end).
template <typename Value>
__device__ __forceinline__ void backward_q(Value* dqkv, const Value* qkv, const Value* dout, const float* lse,
                                           const float* delta, const int* key_valid, int B, int T, int C, int H,
                                           int causal, float scale) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    ENGINE_DYNAMIC_SHARED_ALIGNED(128, unsigned char, tc_shared);
    const int hs = C / H, bh = blockIdx.y, b = bh / H, h = bh % H, q0 = blockIdx.x * TC_ROWS;
    __nv_bfloat16* qs = reinterpret_cast<__nv_bfloat16*>(tc_shared);
    __nv_bfloat16* dos = qs + TC_ROWS * hs;
    __nv_bfloat16* ks = dos + TC_ROWS * hs;
    __nv_bfloat16* vs = ks + TC_TILE * hs;
    __nv_bfloat16* ds = vs + TC_TILE * hs;           // dS in bf16 (TC_ROWS × TC_TILE)
    float* ss = reinterpret_cast<float*>(ds + TC_ROWS * TC_TILE);
    float* dps = ss + TC_ROWS * TC_TILE;
    float* dq = dps + TC_ROWS * TC_TILE;
    const int warp = threadIdx.x / WARP_SIZE, lane = threadIdx.x % WARP_SIZE;
    const int row = warp * TC_FRAG + lane / 2, half = lane % 2, t = q0 + row;
    const float my_lse = t < T ? lse[(long)bh * T + t] : INFINITY;
    const float my_delta = t < T ? delta[(long)bh * T + t] : 0.0f;

    load_bf16(qs, qkv, b, q0, TC_ROWS, T, C, h * hs, hs);
    load_bf16_rows(dos, dout, b, q0, TC_ROWS, T, C, h * hs, hs);
    for (int i = threadIdx.x; i < TC_ROWS * hs; i += blockDim.x) dq[i] = 0.0f;
    const int key_end = causal ? min(q0 + TC_ROWS, T) : T;
    for (int k0 = 0; k0 < key_end; k0 += TC_TILE) {
        __syncthreads();
        load_bf16(ks, qkv, b, k0, TC_TILE, T, C, C + h * hs, hs);
        load_bf16(vs, qkv, b, k0, TC_TILE, T, C, 2 * C + h * hs, hs);
        __syncthreads();
        rows_times_rows(ss + warp * TC_FRAG * TC_TILE, TC_TILE, qs + warp * TC_FRAG * hs, hs, ks, hs, TC_TILE / TC_FRAG, hs);
        rows_times_rows(dps + warp * TC_FRAG * TC_TILE, TC_TILE, dos + warp * TC_FRAG * hs, hs, vs, hs, TC_TILE / TC_FRAG, hs);
        __syncwarp();
        for (int c = half * TC_TILE / 2; c < (half + 1) * TC_TILE / 2; c++) {
            const int at = row * TC_TILE + c;
            const float p = tc_visible(t, k0 + c, T, causal, key_valid, b) && my_lse != INFINITY
                                ? expf(ss[at] * scale - my_lse) : 0.0f;
            ds[at] = __float2bfloat16_rn(p * (dps[at] - my_delta));
        }
        __syncwarp();
        accumulate_product(dq + warp * TC_FRAG * hs, hs, ds + warp * TC_FRAG * TC_TILE, TC_TILE, ks, hs, hs / TC_FRAG, TC_TILE);
        __syncwarp();
    }
    if (t < T) {
        Value* q_row = dqkv + ((long)b * T + t) * 3 * C + (long)h * hs;
        for (int d = half * hs / 2; d < (half + 1) * hs / 2; d++)
            q_row[d] = from_float<Value>(to_float(q_row[d]) + scale * dq[row * hs + d]);
    }
#endif
}

}  // namespace flash_tc
}  // namespace engine
