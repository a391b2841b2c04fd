// LayerNorm forward and backward over rows of C. CPU twin: ops/normalization/LayerNorm.cs.
// One warp per row for the row-wise work; the weight and bias gradients (sums over all rows) are reduced in two
// deterministic stages (row chunks → partials, then partials in chunk order), without atomics.
// Values (input, output, weight, bias, their activation gradients) are T, the training precision; the mean and
// 1/σ per row and the weight and bias gradients are fp32, and so is every sum.
#include "common.cuh"

namespace engine {
namespace layernorm {

// out = (x − mean)·rstd·w + b; saves mean and rstd per row. bias may be null. Block: warps of 32, one row each.
template <typename T>
__device__ __forceinline__ void forward(T* out, float* mean, float* rstd, const T* in, const T* weight, const T* bias,
                                        int N, int C, float eps) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const T* x = in + (long)row * C;
    float sum = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) sum += to_float(x[i]);
    const float m = warp_sum(sum) / C;
    float sq = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) { const float d = to_float(x[i]) - m; sq += d * d; }
    const float r = rsqrtf(warp_sum(sq) / C + eps);
    T* o = out + (long)row * C;
    for (int i = lane; i < C; i += WARP_SIZE)
        o[i] = from_float<T>((to_float(x[i]) - m) * r * to_float(weight[i]) + (bias ? to_float(bias[i]) : 0.0f));
    if (lane == 0) { mean[row] = m; rstd[row] = r; }
}

// The residual add fused in front: residual = a + b (stored, rounded to T), then out = LayerNorm(residual) over the
// residual as stored, so the result is bit for bit the two kernels in turn (residual_add, then forward above). One
// warp per row; each lane reads back only the residual elements it wrote itself. residual may be a or b (each
// element is read before it is written, by the same lane), as residual_add allows.
template <typename T>
__device__ __forceinline__ void residual_forward(T* residual, T* out, float* mean, float* rstd, const T* a, const T* b,
                                                 const T* weight, const T* bias, int N, int C, float eps) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const long at = (long)row * C;
    T* x = residual + at;
    float sum = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) {
        const T r = from_float<T>(to_float(a[at + i]) + to_float(b[at + i]));
        x[i] = r;
        sum += to_float(r);
    }
    const float m = warp_sum(sum) / C;
    float sq = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) { const float d = to_float(x[i]) - m; sq += d * d; }
    const float r = rsqrtf(warp_sum(sq) / C + eps);
    T* o = out + at;
    for (int i = lane; i < C; i += WARP_SIZE)
        o[i] = from_float<T>((to_float(x[i]) - m) * r * to_float(weight[i]) + (bias ? to_float(bias[i]) : 0.0f));
    if (lane == 0) { mean[row] = m; rstd[row] = r; }
}

// din += rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dout·w, x̂ = (x − mean)·rstd. One warp per row.
template <typename T>
__device__ __forceinline__ void backward_input(T* din, const T* dout, const T* in, const T* weight, const float* mean,
                                               const float* rstd, int N, int C) {
    const int row = blockIdx.x * (blockDim.x / WARP_SIZE) + threadIdx.x / WARP_SIZE;
    const int lane = threadIdx.x % WARP_SIZE;
    if (row >= N) return;
    const T* x = in + (long)row * C;
    const T* dy = dout + (long)row * C;
    const float m = mean[row], r = rstd[row];
    float g_sum = 0.0f, gx_sum = 0.0f;
    for (int i = lane; i < C; i += WARP_SIZE) {
        const float g = to_float(dy[i]) * to_float(weight[i]);
        g_sum += g;
        gx_sum += g * (to_float(x[i]) - m) * r;
    }
    const float g_mean = warp_sum(g_sum) / C, gx_mean = warp_sum(gx_sum) / C;
    T* dx = din + (long)row * C;
    for (int i = lane; i < C; i += WARP_SIZE) {
        const float xhat = (to_float(x[i]) - m) * r;
        dx[i] = from_float<T>(to_float(dx[i]) + r * (to_float(dy[i]) * to_float(weight[i]) - g_mean - xhat * gx_mean));
    }
}

// Stage 1 of dweight/dbias: grid (ceil(C / blockDim.x), chunks); block (.., chunk) sums rows
// [chunk·rows_per_chunk, …) for its columns into partial_w/partial_b[chunk, c].
template <typename T>
__device__ __forceinline__ void backward_params_partial(float* partial_w, float* partial_b, const T* dout, const T* in,
                                                        const float* mean, const float* rstd, int N, int C,
                                                        int rows_per_chunk) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    const int chunk = blockIdx.y;
    if (c >= C) return;
    const int start = chunk * rows_per_chunk, end = min(N, start + rows_per_chunk);
    float sw = 0.0f, sb = 0.0f;
    for (int n = start; n < end; n++) {
        const float dy = to_float(dout[(long)n * C + c]);
        sw += dy * (to_float(in[(long)n * C + c]) - mean[n]) * rstd[n];
        sb += dy;
    }
    partial_w[(long)chunk * C + c] = sw;
    partial_b[(long)chunk * C + c] = sb;
}

// Stage 2: dweight[c] += Σ_chunk partial_w[chunk, c] in chunk order; same for dbias (null = no bias). fp32 only:
// the partials and the weights' gradients are fp32 in every precision.
__device__ __forceinline__ void backward_params_finish(float* dweight, float* dbias, const float* partial_w, const float* partial_b, int chunks, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sw = 0.0f, sb = 0.0f;
    for (int k = 0; k < chunks; k++) { sw += partial_w[(long)k * C + c]; sb += partial_b[(long)k * C + c]; }
    dweight[c] += sw;
    if (dbias) dbias[c] += sb;
}

}  // namespace layernorm
}  // namespace engine
