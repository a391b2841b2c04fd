// Token + learned position embedding, forward and backward. CPU twin: engine/Backends/Cpu/Ops/Embedding.cs.
// The backward never uses float atomics, so its sums have one fixed order and runs are bit-identical:
//  - positions: thread (t, c) adds the B rows of position t in order b = 0..B-1;
//  - tokens: the host groups positions by token id (it has the tokens anyway) into buckets; block k owns bucket
//    k's token row and adds that token's positions in ascending order. No two blocks touch the same row.
#include "common.cuh"

using namespace engine;

// out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
extern "C" __global__ void embedding_forward_f32(float* out, const int* tokens, const float* wte, const float* wpe,
                                                 int B, int T, int C) {
    const long n = (long)B * T * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long bt = i / C;
        const int c = (int)(i % C), t = (int)(bt % T);
        out[i] = wte[(long)tokens[bt] * C + c] + wpe[(long)t * C + c];
    }
}

// dwpe[t,c] += Σ_b dout[b,t,c]
extern "C" __global__ void embedding_backward_positions_f32(float* dwpe, const float* dout, int B, int T, int C) {
    const long n = (long)T * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        float sum = 0.0f;
        for (int b = 0; b < B; b++) sum += dout[(long)b * T * C + i];
        dwpe[i] += sum;
    }
}

// Bucket k: token bucket_tokens[k], positions bucket_positions[bucket_starts[k] .. bucket_starts[k+1]) in
// ascending order. Grid: (buckets, ceil(C / blockDim.x)).
extern "C" __global__ void embedding_backward_tokens_f32(float* dwte, const float* dout, const int* bucket_tokens,
                                                         const int* bucket_starts, const int* bucket_positions,
                                                         int buckets, int C) {
    const int k = blockIdx.x;
    const int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (k >= buckets || c >= C) return;
    float sum = 0.0f;
    for (int j = bucket_starts[k]; j < bucket_starts[k + 1]; j++) sum += dout[(long)bucket_positions[j] * C + c];
    dwte[(long)bucket_tokens[k] * C + c] += sum;
}

// One lookup added to a sum: out[n,:] += table[ids[n],:]. CPU twin: Embedding.AddRows.
extern "C" __global__ void embedding_add_rows_f32(float* out, const int* ids, const float* table, int N, int C) {
    const long n = (long)N * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] += table[(long)ids[i / C] * C + i % C];
}

// Its backward is embedding_backward_tokens_f32 over buckets of the ids (the host leaves out the padding id's).
