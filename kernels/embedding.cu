// Token + learned position embedding, forward and backward. CPU twin: engine/Backends/Cpu/Ops/Embedding.cs.
// The backward never uses float atomics, so its sums have one fixed order and runs are bit-identical:
//  - positions: thread (t, c) adds the B rows of position t in order b = 0..B-1;
//  - tokens: the host groups positions by token id (it has the tokens anyway) into buckets; block k owns bucket
//    k's token row and adds that token's positions in ascending order. No two blocks touch the same row.
// The tables (the weights' compute copy) and the output and its gradient are T, the training precision; the
// tables' gradients are fp32 in every precision, and so are the sums.
#include "common.cuh"

namespace engine {
namespace embedding {

// out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
template <typename T>
__device__ __forceinline__ void forward(T* out, const int* tokens, const T* wte, const T* wpe, int B, int T_, int C) {
    const long n = (long)B * T_ * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long bt = i / C;
        const int c = (int)(i % C), t = (int)(bt % T_);
        out[i] = from_float<T>(to_float(wte[(long)tokens[bt] * C + c]) + to_float(wpe[(long)t * C + c]));
    }
}

// dwpe[t,c] += Σ_b dout[b,t,c]
template <typename T>
__device__ __forceinline__ void backward_positions(float* dwpe, const T* dout, int B, int T_, int C) {
    const long n = (long)T_ * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        float sum = 0.0f;
        for (int b = 0; b < B; b++) sum += to_float(dout[(long)b * T_ * C + i]);
        dwpe[i] += sum;
    }
}

// Bucket k: token bucket_tokens[k], positions bucket_positions[bucket_starts[k] .. bucket_starts[k+1]) in
// ascending order. Grid: (buckets, ceil(C / blockDim.x)).
template <typename T>
__device__ __forceinline__ void backward_tokens(float* dwte, const T* dout, const int* bucket_tokens,
                                                const int* bucket_starts, const int* bucket_positions, int buckets,
                                                int C) {
    const int k = blockIdx.x;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (k >= buckets || c >= C) return;
    float sum = 0.0f;
    for (int j = bucket_starts[k]; j < bucket_starts[k + 1]; j++) sum += to_float(dout[(long)bucket_positions[j] * C + c]);
    dwte[(long)bucket_tokens[k] * C + c] += sum;
}

// One lookup added to a sum: out[n,:] += table[ids[n],:]. CPU twin: Embedding.AddRows.
template <typename T>
__device__ __forceinline__ void add_rows(T* out, const int* ids, const T* table, int N, int C) {
    const long n = (long)N * C;
    for (long i = global_thread_index(); i < n; i += grid_stride())
        out[i] = from_float<T>(to_float(out[i]) + to_float(table[(long)ids[i / C] * C + i % C]));
}

}  // namespace embedding
}  // namespace engine

using namespace engine;

// add_rows' backward is embedding_backward_tokens over buckets of the ids (the host leaves out the padding id's).
extern "C" __global__ void embedding_forward_f32(float* out, const int* tokens, const float* wte, const float* wpe,
                                                 int B, int T_, int C) {
    embedding::forward(out, tokens, wte, wpe, B, T_, C);
}

extern "C" __global__ void embedding_backward_positions_f32(float* dwpe, const float* dout, int B, int T_, int C) {
    embedding::backward_positions(dwpe, dout, B, T_, C);
}

extern "C" __global__ void embedding_backward_tokens_f32(float* dwte, const float* dout, const int* bucket_tokens,
                                                         const int* bucket_starts, const int* bucket_positions,
                                                         int buckets, int C) {
    embedding::backward_tokens(dwte, dout, bucket_tokens, bucket_starts, bucket_positions, buckets, C);
}

extern "C" __global__ void embedding_add_rows_f32(float* out, const int* ids, const float* table, int N, int C) {
    embedding::add_rows(out, ids, table, N, C);
}

extern "C" __global__ void embedding_forward_bf16(bf16* out, const int* tokens, const bf16* wte, const bf16* wpe,
                                                  int B, int T_, int C) {
    embedding::forward(out, tokens, wte, wpe, B, T_, C);
}

extern "C" __global__ void embedding_backward_positions_bf16(
    float* dwpe, const bf16* dout, int B, int T_, int C) {
    embedding::backward_positions(dwpe, dout, B, T_, C);
}

extern "C" __global__ void embedding_backward_tokens_bf16(float* dwte, const bf16* dout, const int* bucket_tokens,
                                                          const int* bucket_starts, const int* bucket_positions,
                                                          int buckets, int C) {
    embedding::backward_tokens(dwte, dout, bucket_tokens, bucket_starts, bucket_positions, buckets, C);
}

extern "C" __global__ void embedding_add_rows_bf16(bf16* out, const int* ids, const bf16* table, int N, int C) {
    embedding::add_rows(out, ids, table, N, C);
}

extern "C" __global__ void embedding_forward_f16(fp16* out, const int* tokens, const fp16* wte, const fp16* wpe,
                                                 int B, int T_, int C) {
    embedding::forward(out, tokens, wte, wpe, B, T_, C);
}

extern "C" __global__ void embedding_backward_positions_f16(float* dwpe, const fp16* dout, int B, int T_, int C) {
    embedding::backward_positions(dwpe, dout, B, T_, C);
}

extern "C" __global__ void embedding_backward_tokens_f16(float* dwte, const fp16* dout, const int* bucket_tokens,
                                                         const int* bucket_starts, const int* bucket_positions,
                                                         int buckets, int C) {
    embedding::backward_tokens(dwte, dout, bucket_tokens, bucket_starts, bucket_positions, buckets, C);
}

extern "C" __global__ void embedding_add_rows_f16(fp16* out, const int* ids, const fp16* table, int N, int C) {
    embedding::add_rows(out, ids, table, N, C);
}
