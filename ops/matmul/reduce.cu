// Row broadcasts and column sums for the linear layer's bias (forward: out[n,:] = bias; backward:
// dbias += Σ_n dout[n,:]). CPU twin: the bias parts of ops/matmul/Matmul.cs. The column sum runs in
// two deterministic stages (row chunks → partials, then partials in chunk order), without atomics.
#include "common.cuh"

namespace engine {
namespace reduce {

// out[n, c] = row[c]
__device__ __forceinline__ void broadcast_rows(float* out, const float* row, int N, int C) {
    const long n = (long)N * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] = row[i % C];
}

// out[n, c] = row[c] for 16-bit values (bf16 or fp16: the bits are copied, the format does not matter)
__device__ __forceinline__ void broadcast_rows_u16(unsigned short* out, const unsigned short* row, int N, int C) {
    const long n = (long)N * C;
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] = row[i % C];
}

// grid (ceil(C / blockDim.x), chunks): partials[chunk, c] = Σ rows of the chunk
__device__ __forceinline__ void column_sum_partial(float* partials, const float* x, int N, int C, int rows_per_chunk) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int chunk = blockIdx.y;
    if (c >= C) return;
    const int start = chunk * rows_per_chunk, end = min(N, start + rows_per_chunk);
    float sum = 0.0f;
    for (int n = start; n < end; n++) sum += x[(long)n * C + c];
    partials[(long)chunk * C + c] = sum;
}

// destination[c] += Σ_chunk partials[chunk, c], chunks in order
__device__ __forceinline__ void column_sum_finish(float* destination, const float* partials, int chunks, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sum = 0.0f;
    for (int k = 0; k < chunks; k++) sum += partials[(long)k * C + c];
    destination[c] += sum;
}

}  // namespace reduce
}  // namespace engine
