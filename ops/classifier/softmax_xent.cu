// Fused softmax + cross-entropy with the gradient written over the logits. CPU twin:
// ops/classifier/CrossEntropy.cs. One block per row; probabilities are never stored. Padded columns
// [V, paddedV) get gradient 0; rows whose target is -100 contribute no loss and a zero gradient row. A target
// outside [0, V) sets *bad_target to row + 1 (the host turns it into an error naming the row).
// The logits are in the training precision (T: float, bf16 or fp16; every sum is fp32) and the dlogits replace them
// in that precision, rounded once; the per-row losses are fp32.
#include "common.cuh"

namespace engine {
namespace classifier {

constexpr int IGNORE_INDEX = -100;

template <typename T>
__device__ __forceinline__ void softmax_xent(T* logits, float* losses, const int* targets, int* bad_target, int N,
                                             int V, int paddedV, float grad_scale) {
    __shared__ float scratch[32];
    const int n = blockIdx.x;
    if (n >= N) return;
    T* row = logits + (long)n * paddedV;
    const int target = targets[n];
    if (target == IGNORE_INDEX || target < 0 || target >= V) {
        if (target != IGNORE_INDEX && threadIdx.x == 0) *bad_target = n + 1;
        if (grad_scale != 0.0f)
            for (int i = threadIdx.x; i < paddedV; i += blockDim.x) row[i] = from_float<T>(0.0f);
        if (threadIdx.x == 0) losses[n] = 0.0f;
        return;
    }
    float local_max = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) local_max = fmaxf(local_max, to_float(row[i]));
    // block max through the sum helper's pattern: warp max, then the warps' maxima
    local_max = warp_max(local_max);
    __syncthreads();
    if (threadIdx.x % WARP_SIZE == 0) scratch[threadIdx.x / WARP_SIZE] = local_max;
    __syncthreads();
    const int warps = blockDim.x / WARP_SIZE;
    const float max = warp_max(threadIdx.x % WARP_SIZE < warps ? scratch[threadIdx.x % WARP_SIZE] : -INFINITY);
    float local_sum = 0.0f;
    for (int i = threadIdx.x; i < V; i += blockDim.x) local_sum += expf(to_float(row[i]) - max);
    const float sum = block_sum(local_sum, scratch);
    const float log_sum = logf(sum) + max;
    const float target_logit = to_float(row[target]);
    __syncthreads(); // everyone has read row[target] before it is overwritten below
    if (threadIdx.x == 0) losses[n] = log_sum - target_logit;
    if (grad_scale != 0.0f) {
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            const float p = expf(to_float(row[i]) - log_sum);
            row[i] = from_float<T>((p - (i == target ? 1.0f : 0.0f)) * grad_scale);
        }
        for (int i = V + threadIdx.x; i < paddedV; i += blockDim.x) row[i] = from_float<T>(0.0f);
    }
}

}  // namespace classifier
}  // namespace engine
