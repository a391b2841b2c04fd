// RMSNorm (T5's T5LayerNorm) forward and backward over rows of C: y = w·x/√(mean(x²) + ε), no mean, no bias.
// CPU twin: ops/normalization/RmsNorm.cs. One warp per row for the row-wise work; the weight gradient (a sum
// over all rows) is reduced in two deterministic stages (row chunks → partials here, then column_sum_finish_f32 of
// reduce.cu adds the partials in chunk order), without atomics.
// Values are T (the training precision); 1/rms per row, the weight gradient and every sum are fp32.
#include "common.cuh"

namespace engine {
namespace rmsnorm {

// out = x·rstd·w; saves rstd = 1/√(mean(x²) + ε) per row. Block: warps of 32, one row each.
template <typename T>
__device__ __forceinline__ void forward(T* out, float* rstd, const T* in, const T* weight, int N, int C, float eps) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const T* x = in + (long)row * C;
    float sq = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) { const float v = to_float(x[i]); sq += v * v; }
    const float r = rsqrtf(warp_sum(sq) / C + eps);
    T* o = out + (long)row * C;
    for (int i = lane; i < C; i += WARP_SIZE) o[i] = from_float<T>(to_float(weight[i]) * (to_float(x[i]) * r));
    if (lane == 0) rstd[row] = r;
}

// din += r·(g − x̂·mean(g·x̂)) with g = dout·w, x̂ = x·r. One warp per row.
template <typename T>
__device__ __forceinline__ void backward_input(T* din, const T* dout, const T* in, const T* weight, const float* rstd,
                                               int N, int C) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const T* x = in + (long)row * C;
    const T* dy = dout + (long)row * C;
    const float r = rstd[row];
    float gx_sum = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) gx_sum += to_float(dy[i]) * to_float(weight[i]) * to_float(x[i]) * r;
    const float gx_mean = warp_sum(gx_sum) / C;
    T* dx = din + (long)row * C;
    for (int i = lane; i < C; i += WARP_SIZE)
        dx[i] = from_float<T>(to_float(dx[i]) + r * (to_float(dy[i]) * to_float(weight[i]) - to_float(x[i]) * r * gx_mean));
}

// Stage 1 of dweight: grid (ceil(C / blockDim.x), chunks); partial[chunk, c] = Σ over the chunk's rows of dout·x̂.
template <typename T>
__device__ __forceinline__ void backward_weight_partial(float* partial, const T* dout, const T* in, const float* rstd,
                                                        int N, int C, int rows_per_chunk) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int chunk = blockIdx.y;
    if (c >= C) return;
    const int start = chunk * rows_per_chunk, end = min(N, start + rows_per_chunk);
    float sum = 0.0f;
    for (int n = start; n < end; n++) sum += to_float(dout[(long)n * C + c]) * to_float(in[(long)n * C + c]) * rstd[n];
    partial[(long)chunk * C + c] = sum;
}

}  // namespace rmsnorm
}  // namespace engine
