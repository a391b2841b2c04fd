// LSQ's backward (ops/quantization/lsq.ops). CPU twin: Lsq.cs. The values' gradient is elementwise and matches the
// CPU bit for bit; the step's gradient is a sum in double: per (row, chunk of kChunk columns) a block tree here, a
// sequential loop on the CPU, then the chunks in order on both sides, so the two agree to double rounding.
#include "common.cuh"

namespace engine {
namespace lsq {

constexpr int kThreads = 256;  // launch size; the tree's scratch is kThreads doubles of dynamic shared memory
constexpr int kChunk = 4096;   // columns per block (Lsq.Chunk on the CPU)

// One block per (row, chunk), grid-stride: dInput (where given) and the chunk's step share in partials.
__device__ __forceinline__ void backward_partial(float* d_input, double* partials, const float* d_output,
                                                 const float* x, const float* steps, int rows, int cols, int chunks,
                                                 int qmax) {
    ENGINE_DYNAMIC_SHARED(double, scratch);
    const long blocks = (long)rows * chunks;
    const float qp = (float)qmax;
    for (long b = blockIdx.x; b < blocks; b += gridDim.x) {
        const int r = (int)(b / chunks), chunk = (int)(b % chunks);
        const float s = steps[r];
        const int end = min(cols, (chunk + 1) * kChunk);
        double share = 0.0;
        if (s != 0.0f) {
            for (int c = chunk * kChunk + threadIdx.x; c < end; c += blockDim.x) {
                const long i = (long)r * cols + c;
                const float g = d_output[i], v = x[i] / s;
                if (v != v) {
                    if (d_input) d_input[i] += g;
                } else if (v < -qp) {
                    share += (double)g * (double)-qp;
                } else if (v > qp) {
                    share += (double)g * (double)qp;
                } else {
                    if (d_input) d_input[i] += g;
                    share += (double)g * (double)(rintf(v) - v);
                }
            }
        }
        scratch[threadIdx.x] = share;
        __syncthreads();
        for (int width = kThreads / 2; width > 0; width /= 2) {
            if ((int)threadIdx.x < width) scratch[threadIdx.x] += scratch[threadIdx.x + width];
            __syncthreads();
        }
        if (threadIdx.x == 0) partials[b] = scratch[0];
        __syncthreads();
    }
}

// One thread per row: the row's chunks in order, scaled, added to the step's gradient.
__device__ __forceinline__ void step_finish(float* d_steps, const double* partials, int rows, int chunks, float scale) {
    for (long r = global_thread_index(); r < rows; r += grid_stride()) {
        double sum = 0.0;
        for (int k = 0; k < chunks; k++) sum += partials[r * chunks + k];
        d_steps[r] += (float)(sum * (double)scale);
    }
}

}  // namespace lsq
}  // namespace engine
