// Mixed-precision plumbing: fp32 ↔ bf16/fp16 casts and fp16 loss-scale unscaling with an inf/NaN check.
// CPU twins: ops/precision/HalfCast.cs and LossScale.cs (rounding defined in engine/Precision/Bf16.cs,
// Fp16.cs). 16-bit buffers arrive from C# as Slice<ushort>: the same 2 bytes as __nv_bfloat16 / __half.
#include "common.cuh"

namespace engine {
namespace precision {

// from_float (common.cuh) rounds to nearest even (__float2bfloat16_rn / __float2half_rn: subnormals kept,
// overflow to ±inf), the CPU twin's rounding; NaN gives CUDA's canonical 0x7FFF, a quiet NaN like the CPU's.
template <typename Half>
__device__ __forceinline__ void cast_to_half(Half* output, const float* input, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) output[i] = from_float<Half>(input[i]);
}

template <typename Half>
__device__ __forceinline__ void cast_from_half(float* output, const Half* input, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) output[i] = to_float(input[i]);
}

// grads *= inverse_scale (the host passes 1/scale rounded to float, as the CPU twin multiplies by), and
// *non_finite = 1 when any result is inf or NaN. The host zeroes the flag before the launch and reads it once
// after: every writer stores the same 1, so the answer does not depend on which thread wins, and no atomics or
// reduction are needed. The check is on the results, like the CPU twin's.
__device__ __forceinline__ void unscale_check(float* grads, int* non_finite, long n, float inverse_scale) {
    bool finite = true;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float g = grads[i] * inverse_scale;
        grads[i] = g;
        finite &= isfinite(g);
    }
    if (!finite) *non_finite = 1;
}

}  // namespace precision
}  // namespace engine
