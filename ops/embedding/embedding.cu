// Token + learned position embedding, forward and backward. CPU twin: ops/embedding/Embedding.cs.
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
