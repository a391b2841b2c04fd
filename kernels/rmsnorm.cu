// RMSNorm (T5's T5LayerNorm) forward and backward over rows of C: y = w·x/√(mean(x²) + ε), no mean, no bias.
// CPU twin: engine/Backends/Cpu/Ops/RmsNorm.cs. One warp per row for the row-wise work; the weight gradient (a sum
// over all rows) is reduced in two deterministic stages (row chunks → partials here, then column_sum_finish_f32 of
// reduce.cu adds the partials in chunk order), without atomics.
#include "common.cuh"

using namespace engine;

// out = x·rstd·w; saves rstd = 1/√(mean(x²) + ε) per row. Block: warps of 32, one row each.
extern "C" __global__ void rmsnorm_forward_f32(float* out, float* rstd, const float* in, const float* weight,
                                               int N, int C, float eps) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const float* x = in + (long)row * C;
    float sq = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) sq += x[i] * x[i];
    const float r = rsqrtf(warp_sum(sq) / C + eps);
    float* o = out + (long)row * C;
    for (int i = lane; i < C; i += WARP_SIZE) o[i] = weight[i] * (x[i] * r);
    if (lane == 0) rstd[row] = r;
}

// din += r·(g − x̂·mean(g·x̂)) with g = dout·w, x̂ = x·r. One warp per row.
extern "C" __global__ void rmsnorm_backward_input_f32(float* din, const float* dout, const float* in,
                                                      const float* weight, const float* rstd, int N, int C) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const float* x = in + (long)row * C;
    const float* dy = dout + (long)row * C;
    const float r = rstd[row];
    float gx_sum = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) gx_sum += dy[i] * weight[i] * x[i] * r;
    const float gx_mean = warp_sum(gx_sum) / C;
    float* dx = din + (long)row * C;
    for (int i = lane; i < C; i += WARP_SIZE) dx[i] += r * (dy[i] * weight[i] - x[i] * r * gx_mean);
}

// Stage 1 of dweight: grid (ceil(C / blockDim.x), chunks); partial[chunk, c] = Σ over the chunk's rows of dout·x̂.
extern "C" __global__ void rmsnorm_backward_weight_partial_f32(float* partial, const float* dout, const float* in,
                                                               const float* rstd, int N, int C, int rows_per_chunk) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int chunk = blockIdx.y;
    if (c >= C) return;
    const int start = chunk * rows_per_chunk, end = min(N, start + rows_per_chunk);
    float sum = 0.0f;
    for (int n = start; n < end; n++) sum += dout[(long)n * C + c] * in[(long)n * C + c] * rstd[n];
    partial[(long)chunk * C + c] = sum;
}
