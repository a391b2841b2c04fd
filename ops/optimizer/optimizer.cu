// AdamW over a flat parameter range (fp32, and mixed: fp32 master weights plus their bf16/fp16 copy), the gradient
// norm's sum of squares, and scaling. CPU twins: ops/optimizer/AdamW.cs (Step, StepMixed) and
// Elementwise.cs (SumOfSquares, Scale, Accumulate).
#include "common.cuh"

namespace engine {
namespace optimizer {

// One element of torch.optim.AdamW: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
// p ← p − step_size · m / (√v / bias2_sqrt + ε), step_size = lr / (1 − β1ᵗ), bias2_sqrt = √(1 − β2ᵗ)
// (the host computes the bias corrections in double once per step). adamw_f32 and adamw_mixed_* both call it,
// so a mixed-precision run's master weights get the bits an fp32 run's weights would.
__device__ __forceinline__ float adamw_element(float param, float grad, float& m, float& v, float lr, float beta1,
                                              float beta2, float eps, float weight_decay, float step_size,
                                              float bias2_sqrt) {
    const float p = param * (1.0f - lr * weight_decay);
    m = beta1 * m + (1.0f - beta1) * grad;
    v = beta2 * v + (1.0f - beta2) * grad * grad;
    return p - step_size * m / (sqrtf(v) / bias2_sqrt + eps);
}

// The mixed step: fp32 master weights and moments updated as above, and the 16-bit copy the forward pass reads
// written from the new master value in the same pass (one read of each buffer instead of a second cast launch).
template <typename Half>
__device__ __forceinline__ void adamw_mixed(float* master, Half* copy, const float* grads, float* m, float* v, long n,
                                            float lr, float beta1, float beta2, float eps, float weight_decay,
                                            float step_size, float bias2_sqrt) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        float mi = m[i], vi = v[i];
        const float p = adamw_element(master[i], grads[i], mi, vi, lr, beta1, beta2, eps, weight_decay, step_size,
                                      bias2_sqrt);
        m[i] = mi;
        v[i] = vi;
        master[i] = p;
        copy[i] = from_float<Half>(p);
    }
}

__device__ __forceinline__ void adamw(float* params, const float* grads, float* m, float* v, long n, float lr, float beta1, float beta2, float eps, float weight_decay, float step_size, float bias2_sqrt) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        float mi = m[i], vi = v[i];
        params[i] = optimizer::adamw_element(params[i], grads[i], mi, vi, lr, beta1, beta2, eps, weight_decay,
                                             step_size, bias2_sqrt);
        m[i] = mi;
        v[i] = vi;
    }
}

// Stage 1 of Σx²: a FIXED grid (the host always launches the same number of blocks) where each thread sums a
// grid-stride subset in double, then its block in a fixed tree: partials[block]. Deterministic for a given grid.
__device__ __forceinline__ void sum_of_squares_partial(double* partials, const float* x, long n) {
    double sum = 0.0;
    for (long i = global_thread_index(); i < n; i += grid_stride()) sum += (double)x[i] * (double)x[i];
    __shared__ double scratch[32];
    const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE, warps = blockDim.x / WARP_SIZE;
    sum = warp_sum(sum);
    if (lane == 0) scratch[warp] = sum;
    __syncthreads();
    if (warp == 0) {
        sum = warp_sum(lane < warps ? scratch[lane] : 0.0);
        if (lane == 0) partials[blockIdx.x] = sum;
    }
}

// Stage 2: one thread adds the partials in block order.
__device__ __forceinline__ void sum_partials(double* result, const double* partials, int count) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double sum = 0.0;
    for (int i = 0; i < count; i++) sum += partials[i];
    *result = sum;
}

// Σ of losses[0..n) in order, in double (the mean loss the host reports).
__device__ __forceinline__ void sum_to_double(double* result, const float* x, long n) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double sum = 0.0;
    for (long i = 0; i < n; i++) sum += x[i];
    *result = sum;
}

}  // namespace optimizer
}  // namespace engine

// scale_f32 (gradient clipping) and accumulate_f32 (gradient sums) are elementwise.cu's, one entry per value storage.
