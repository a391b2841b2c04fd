// Stands in for CUDA's mma.h (nvcuda::wmma) on the emulated device: the 16×16×16 shape with bf16 or fp16 operands
// and an fp32 accumulator, which is what kernels/ uses.
//
// Not a model of the hardware's fragment layout: every lane holds the whole tile, element (r, c) at x[r·cols + c]
// (num_elements is 256, not a GPU's per-lane count), so code that reads or writes fragment elements by index gets
// other answers here than on a GPU. Code that goes through load/store/fill/mma only (as kernels/ does) sees the
// same tile values.
//
// mma_sync: each product of two bf16 or fp16 values is exact in double (at most 22 significant bits); the products
// and c are summed in double in a fixed order (c, then k ascending) and rounded once to fp32. The double sum is
// exact unless the terms' magnitudes span more than about 2^24, and then its error is far below fp32's. Tensor cores
// align and truncate differently, so results agree with a GPU to fp32 rounding, not bit for bit.
//
// The *_sync functions are warp collectives: each first waits for all 32 lanes (__syncwarp), so a lane that
// diverged from its warp is reported by the scheduler instead of computing from a half-written tile. A store writes
// the same values from every lane, and the entry barrier keeps any lane from reading what another lane's store of
// the next collective writes.
#pragma once

#include <type_traits>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
// A tile's rows and columns: a is M×K, b is K×N, the accumulator M×N.
template <typename Use, int M, int N, int K> struct tile_shape;
template <int M, int N, int K> struct tile_shape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K> struct tile_shape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K> struct tile_shape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

inline double widen(__nv_bfloat16 v) { return __bfloat162float(v); }
inline double widen(__half v) { return __half2float(v); }
inline double widen(float v) { return v; }

inline void enter_collective() { ::emu::sync_warp(0xFFFFFFFFu); }

// What CUDA requires of a load or store and a GPU does not check (the result is then undefined): the pointer
// 256-bit (32-byte) aligned, and the leading dimension a multiple of 16 bytes (8 elements of 16 bits, 4 of fp32).
template <typename T>
inline void check_tile_address(const T* p, unsigned ldm, const char* call) {
    if (reinterpret_cast<uintptr_t>(p) % 32 != 0) ::emu::trap(call);
    if ((ldm * sizeof(T)) % 16 != 0) ::emu::trap(call);
}
}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void> class fragment {
    static_assert(M == 16 && N == 16 && K == 16, "the emulated WMMA has the 16×16×16 shape only");
    static_assert(std::is_same<Use, accumulator>::value ? std::is_same<T, float>::value
                                                        : std::is_same<T, __nv_bfloat16>::value || std::is_same<T, __half>::value,
                  "the emulated WMMA has bf16/fp16 operands and an fp32 accumulator only");
    static_assert(std::is_same<Use, accumulator>::value == std::is_same<Layout, void>::value,
                  "operand fragments name a layout (row_major/col_major); accumulators do not");

public:
    static constexpr int rows = detail::tile_shape<Use, M, N, K>::rows;
    static constexpr int cols = detail::tile_shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    T x[num_elements];
};

template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const T& value) {
    for (int i = 0; i < f.num_elements; i++) f.x[i] = value;
}

namespace detail {
template <typename Fragment, typename T>
inline void load_tile(Fragment& f, const T* p, unsigned ldm, bool row_major_memory) {
    enter_collective();
    check_tile_address(p, ldm, "wmma::load_matrix_sync: the pointer must be 32-byte aligned and ldm a multiple of 16 bytes");
    for (int r = 0; r < Fragment::rows; r++)
        for (int c = 0; c < Fragment::cols; c++)
            f.x[r * Fragment::cols + c] = row_major_memory ? p[(long)r * ldm + c] : p[(long)c * ldm + r];
}
}  // namespace detail

// Operand tiles: the fragment's layout says how memory holds the tile.
template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, row_major>& f, const T* p, unsigned ldm) {
    detail::load_tile(f, p, ldm, true);
}
template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, col_major>& f, const T* p, unsigned ldm) {
    detail::load_tile(f, p, ldm, false);
}
// Accumulator tiles: the call says how memory holds the tile.
template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout) {
    detail::load_tile(f, p, ldm, layout == mem_row_major);
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
    using Fragment = fragment<accumulator, M, N, K, float>;
    detail::enter_collective();
    detail::check_tile_address(p, ldm, "wmma::store_matrix_sync: the pointer must be 32-byte aligned and ldm a multiple of 16 bytes");
    for (int r = 0; r < Fragment::rows; r++)
        for (int c = 0; c < Fragment::cols; c++)
            (layout == mem_row_major ? p[(long)r * ldm + c] : p[(long)c * ldm + r]) = f.x[r * Fragment::cols + c];
}

// d = a·b + c; d may be c.
template <int M, int N, int K, typename T, typename LayoutA, typename LayoutB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LayoutA>& a,
                     const fragment<matrix_b, M, N, K, T, LayoutB>& b, const fragment<accumulator, M, N, K, float>& c) {
    detail::enter_collective();
    float result[M * N];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = c.x[i * N + j];
            for (int k = 0; k < K; k++) sum += detail::widen(a.x[i * K + k]) * detail::widen(b.x[k * N + j]);
            result[i * N + j] = (float)sum;
        }
    for (int i = 0; i < M * N; i++) d.x[i] = result[i];
}

}  // namespace wmma
}  // namespace nvcuda
