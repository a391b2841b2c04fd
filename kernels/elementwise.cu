// Elementwise ops: residual add, GELU (tanh and erf forms) and gated GELU. CPU twins: engine/Backends/Cpu/Ops/Elementwise.cs
// and Gelu.cs. Launch with any grid: every kernel here walks the array with a grid-stride loop, so the host
// can cap the grid (e.g. a few blocks per SM) instead of sizing it to n.
#include "common.cuh"

namespace engine {
namespace elementwise {

// √(2/π) and the cubic coefficient of GPT-2's "gelu_new" (HF gelu_pytorch_tanh).
constexpr float GELU_SCALE = 0.7978845608028654f;
constexpr float GELU_CUBIC = 0.044715f;

}  // namespace elementwise
}  // namespace engine

using namespace engine;
using namespace engine::elementwise;

// out = a + b. out may alias a or b (each element is read before it is written, by the same thread).
extern "C" __global__ void residual_add_f32(float* out, const float* a, const float* b, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) out[i] = a[i] + b[i];
}

// out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). tanhf, not the fast-math approximation: the CUDA
// op is tested against the CPU twin (float64 inside) at fp32 tolerances.
extern "C" __global__ void gelu_tanh_forward_f32(float* out, const float* in, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float x = in[i];
        const float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u));
    }
}

// din += dout · GELU'(x). Accumulates, like every backward here: a layer's input gradient may already hold
// the residual branch's contribution, and callers zero gradients when a new sum starts.
extern "C" __global__ void gelu_tanh_backward_f32(float* din, const float* dout, const float* in, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float x = in[i];
        const float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
        const float t = tanhf(u);
        const float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
        const float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        din[i] += grad * dout[i];
    }
}

// Exact GELU (BERT's "gelu"): x·Φ(x), Φ(x) = ½(1 + erf(x/√2)). CPU twin: engine/Backends/Cpu/Ops/GeluErf.cs.
extern "C" __global__ void gelu_erf_forward_f32(float* out, const float* in, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float x = in[i];
        out[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    }
}

// din += dout·(Φ(x) + x·φ(x)), φ the standard normal density.
extern "C" __global__ void gelu_erf_backward_f32(float* din, const float* dout, const float* in, long n) {
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const float x = in[i];
        const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
        din[i] += dout[i] * (cdf + x * pdf);
    }
}

// T5 v1.1's gated GELU: rows of [gate (F) | linear (F)] in, out (N, F) = gelu_tanh(gate)·linear.
// CPU twin: engine/Backends/Cpu/Ops/GatedGelu.cs.
extern "C" __global__ void gated_gelu_forward_f32(float* out, const float* in, int N, int F) {
    const long n = (long)N * F;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long row = i / F, col = i % F;
        const float x = in[row * 2 * F + col], linear = in[row * 2 * F + F + col];
        const float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u)) * linear;
    }
}

// din[:, gate] += dout·linear·gelu'(gate); din[:, linear] += dout·gelu(gate). Accumulates.
extern "C" __global__ void gated_gelu_backward_f32(float* din, const float* dout, const float* in, int N, int F) {
    const long n = (long)N * F;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const long row = i / F, col = i % F;
        const float x = in[row * 2 * F + col], linear = in[row * 2 * F + F + col], g = dout[i];
        const float u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
        const float t = tanhf(u);
        const float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBIC * x * x);
        const float slope = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        din[row * 2 * F + col] += g * linear * slope;
        din[row * 2 * F + F + col] += g * 0.5f * x * (1.0f + t);
    }
}
