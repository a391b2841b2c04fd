// Elementwise ops: residual add, GELU (tanh and erf forms) and gated GELU. CPU twins: ops/elementwise/Elementwise.cs
// and Gelu.cs. Launch with any grid: every kernel here walks the array with a grid-stride loop, so the host
// can cap the grid (e.g. a few blocks per SM) instead of sizing it to n.
// Every array is T, the training precision (float, bf16 or fp16); the arithmetic is fp32 and each output is
// rounded once when it is stored (an accumulated gradient: read, add in fp32, round).
#include "common.cuh"

namespace engine {
namespace elementwise {

// √(2/π) and the cubic coefficient of GPT-2's "gelu_new" (HF gelu_pytorch_tanh).
constexpr float GELU_SCALE = 0.7978845608028654f;
constexpr float GELU_CUBIC = 0.044715f;

// out = a + b. out may alias a or b (each element is read before it is written, by the same thread).
template <typename T>
__device__ __forceinline__ void residual_add(T* out, const T* a, const T* b, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

// destination += source
template <typename T>
__device__ __forceinline__ void accumulate(T* destination, const T* source, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride())
        destination[i] = from_float<T>(to_float(destination[i]) + to_float(source[i]));
}

// x *= factor (gradient clipping on fp32 gradients; T5's tied head rescaling its 16-bit hidden states)
template <typename T>
__device__ __forceinline__ void scale(T* x, long n, float factor) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) x[i] = from_float<T>(to_float(x[i]) * factor);
}

__device__ __forceinline__ float gelu_tanh(float x) {
    const float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
}

__device__ __forceinline__ float gelu_tanh_slope(float x) {
    const float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    const float t = tanhf(u);
    const float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

// out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). tanhf, not the fast-math approximation: the CUDA
// op is tested against the CPU twin (float64 inside) at fp32 tolerances.
template <typename T>
__device__ __forceinline__ void gelu_tanh_forward(T* out, const T* in, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] = from_float<T>(gelu_tanh(to_float(in[i])));
}

// A GELU backward's input gradient: din = v when overwrite (GradientWrite.Overwrite: the caller's buffer is fresh,
// its old values are never read), else din += v (a layer's input gradient may already hold the residual branch's
// contribution, and callers zero gradients when a new sum starts).
template <typename T>
__device__ __forceinline__ void write_gradient(T* din, long i, float v, int overwrite) {
    din[i] = from_float<T>(overwrite ? v : to_float(din[i]) + v);
}

// din (+)= dout · GELU'(x).
template <typename T>
__device__ __forceinline__ void gelu_tanh_backward(T* din, const T* dout, const T* in, long n, int overwrite) {
    for (long i = global_thread_index(); i < n; i += grid_stride())
        write_gradient(din, i, gelu_tanh_slope(to_float(in[i])) * to_float(dout[i]), overwrite);
}

// Exact GELU (BERT's "gelu"): x·Φ(x), Φ(x) = ½(1 + erf(x/√2)). CPU twin: ops/elementwise/GeluErf.cs.
template <typename T>
__device__ __forceinline__ void gelu_erf_forward(T* out, const T* in, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float x = to_float(in[i]);
        out[i] = from_float<T>(0.5f * x * (1.0f + erff(x * 0.70710678118654752f)));
    }
}

// din (+)= dout·(Φ(x) + x·φ(x)), φ the standard normal density.
template <typename T>
__device__ __forceinline__ void gelu_erf_backward(T* din, const T* dout, const T* in, long n, int overwrite) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float x = to_float(in[i]);
        const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
        write_gradient(din, i, to_float(dout[i]) * (cdf + x * pdf), overwrite);
    }
}

// T5 v1.1's gated GELU: rows of [gate (F) | linear (F)] in, out (N, F) = gelu_tanh(gate)·linear.
// CPU twin: ops/elementwise/GatedGelu.cs.
template <typename T>
__device__ __forceinline__ void gated_gelu_forward(T* out, const T* in, int N, int F) {
    const long n = (long)N * F;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long row = i / F, col = i % F;
        const float x = to_float(in[row * 2 * F + col]), linear = to_float(in[row * 2 * F + F + col]);
        out[i] = from_float<T>(gelu_tanh(x) * linear);
    }
}

// din[:, gate] (+)= dout·linear·gelu'(gate); din[:, linear] (+)= dout·gelu(gate).
template <typename T>
__device__ __forceinline__ void gated_gelu_backward(T* din, const T* dout, const T* in, int N, int F, int overwrite) {
    const long n = (long)N * F;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long row = i / F, col = i % F;
        const long gate_at = row * 2 * F + col, linear_at = gate_at + F;
        const float x = to_float(in[gate_at]), linear = to_float(in[linear_at]), g = to_float(dout[i]);
        const float t = tanhf(GELU_SCALE * (x + GELU_CUBIC * x * x * x));
        const float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
        const float slope = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        write_gradient(din, gate_at, g * linear * slope, overwrite);
        write_gradient(din, linear_at, g * 0.5f * x * (1.0f + t), overwrite);
    }
}

}  // namespace elementwise
}  // namespace engine
