// T5's relative position bias: bias (H, Tq, Tk)[h, t, u] = table (buckets, H)[bucket(u − t), h], and its gradient
// into the table. CPU twin: ops/embedding/RelativePositionBias.cs; the bucket formula is
// engine/Tensors/RelativePositionShape.cs's (HF's _relative_position_bucket, logarithm in float32), line for line.
// Backward is deterministic without atomics: diagonal sums per (head, distance), then per (bucket, head) the
// diagonals of that bucket in ascending distance — the CPU twin's order.
#include "common.cuh"

namespace engine {
namespace relative_position {

struct BiasShape {
    int H, Tq, Tk, buckets, max_distance, bidirectional;
};

__device__ int bucket_of(int relative, const BiasShape& s) {
    int buckets = s.buckets, bucket = 0;
    if (s.bidirectional) {
        buckets /= 2;
        if (relative > 0) bucket += buckets;
        relative = abs(relative);
    } else {
        relative = -min(relative, 0);
    }
    const int max_exact = buckets / 2;
    if (relative < max_exact) return bucket + relative;
    const float scaled = logf(relative / (float)max_exact) / (float)log(s.max_distance / (double)max_exact) *
                         (float)(buckets - max_exact);
    return bucket + min(max_exact + (int)scaled, buckets - 1);
}

// One thread per bias element (grid-stride). The table (a weight's compute copy) and the bias are Value, the
// training precision; the table's value is copied, so nothing rounds.
template <typename Value>
__device__ __forceinline__ void forward(Value* bias, const Value* table, BiasShape s) {
    const long n = (long)s.H * s.Tq * s.Tk;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const int u = (int)(i % s.Tk), t = (int)((i / s.Tk) % s.Tq), h = (int)(i / ((long)s.Tk * s.Tq));
        bias[i] = table[(long)bucket_of(u - t, s) * s.H + h];
    }
}

// Stage 1: diagonal[h, d + Tq − 1] = Σ_t dbias[h, t, t + d], queries in order (in double, like the CPU twin). dbias
// is fp32 in every precision: the bias's gradient collects every layer's share, so it is kept as a gradient.
__device__ __forceinline__ void backward_diagonal(double* diagonal, const float* dbias, BiasShape s) {
    const int D = s.Tq + s.Tk - 1;
    const long n = (long)s.H * D;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const int h = (int)(i / D), d = (int)(i % D) - (s.Tq - 1);
        double sum = 0.0;
        for (int t = max(0, -d); t < s.Tq && t + d < s.Tk; t++) sum += dbias[((long)h * s.Tq + t) * s.Tk + t + d];
        diagonal[i] = sum;
    }
}

// Stage 2: dtable[b, h] += Σ of the diagonals whose distance falls in bucket b, ascending distance. The table's
// gradient is fp32 in every precision.
__device__ __forceinline__ void backward_table(float* dtable, const double* diagonal, BiasShape s) {
    const int D = s.Tq + s.Tk - 1;
    const long n = (long)s.buckets * s.H;
    for (long i = global_thread_index(); i < n; i += grid_stride()) {
        const int b = (int)(i / s.H), h = (int)(i % s.H);
        double sum = 0.0;
        bool any = false;
        for (int di = 0; di < D; di++)
            if (bucket_of(di - (s.Tq - 1), s) == b) { sum += diagonal[(long)h * D + di]; any = true; }
        if (any) dtable[i] += (float)sum;
    }
}

}  // namespace relative_position
}  // namespace engine
