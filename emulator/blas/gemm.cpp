#include "gemm.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "float16.h"

namespace emu::blas {

float load_element(const void* base, Element type, size_t index) {
    switch (type) {
        case Element::F32: return static_cast<const float*>(base)[index];
        case Element::F16: return numeric::half_to_float(static_cast<const uint16_t*>(base)[index]);
        case Element::BF16: return numeric::bf16_to_float(static_cast<const uint16_t*>(base)[index]);
        case Element::I8: return static_cast<const int8_t*>(base)[index];
        case Element::I32: return float(static_cast<const int32_t*>(base)[index]);
    }
    return 0;
}

void store_element(void* base, Element type, size_t index, float value) {
    switch (type) {
        case Element::F32: static_cast<float*>(base)[index] = value; break;
        case Element::F16: static_cast<uint16_t*>(base)[index] = numeric::float_to_half(value); break;
        case Element::BF16: static_cast<uint16_t*>(base)[index] = numeric::float_to_bf16(value); break;
        case Element::I8: case Element::I32: break;  // integers go through multiply_int8's caller, never as floats
    }
}

namespace {

// Padding k to a multiple of the accumulator width lets the inner loop run without a tail; the padded zeros add
// exact zeros (0·x = 0 unless x is inf/NaN, and the padding of both operands is zero, so 0·0).
constexpr int kLanes = 8;

// Copies op(X) into rows of contiguous k: `count` vectors (rows of op(A) or columns of op(B)) of length k_padded.
// `along_k_contiguous` says whether stored X already runs along k with unit stride.
void pack(const Operand& x, int count, int k, int k_padded, bool along_k_contiguous, bool tf32, std::vector<float>& out) {
    out.assign(size_t(count) * k_padded, 0.0f);
    for (int v = 0; v < count; ++v) {
        float* row = out.data() + size_t(v) * k_padded;
        for (int p = 0; p < k; ++p) {
            size_t index = along_k_contiguous ? size_t(v) * x.ld + p : size_t(p) * x.ld + v;
            float value = load_element(x.data, x.type, index);
            row[p] = tf32 ? numeric::round_to_tf32(value) : value;
        }
    }
}

// Eight partial sums, each over every eighth k, then combined in a fixed tree: the order never depends on the
// matrix shape or thread split, and the compiler can keep the partial sums in vector registers.
inline float dot(const float* a, const float* b, int k_padded) {
    float partial[kLanes] = {};
    for (int p = 0; p < k_padded; p += kLanes)
        for (int l = 0; l < kLanes; ++l) partial[l] += a[p + l] * b[p + l];
    float s01 = partial[0] + partial[1], s23 = partial[2] + partial[3];
    float s45 = partial[4] + partial[5], s67 = partial[6] + partial[7];
    return (s01 + s23) + (s45 + s67);
}

void multiply_columns(int m, int k_padded, float alpha, const float* a_rows, const float* b_cols, int col_begin,
                      int col_end, float* product) {
    // Blocks of rows keep a slice of packed A in cache while every column of the range passes over it.
    constexpr int kRowBlock = 64;
    for (int row0 = 0; row0 < m; row0 += kRowBlock) {
        int row1 = std::min(m, row0 + kRowBlock);
        for (int j = col_begin; j < col_end; ++j) {
            const float* b = b_cols + size_t(j) * k_padded;
            float* out = product + size_t(j) * m;
            for (int i = row0; i < row1; ++i) out[i] = alpha * dot(a_rows + size_t(i) * k_padded, b, k_padded);
        }
    }
}

}  // namespace

void multiply(int m, int n, int k, float alpha, const Operand& a, const Operand& b, bool tf32, float* product) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        std::fill(product, product + size_t(m) * n, 0.0f);
        return;
    }
    int k_padded = (k + kLanes - 1) / kLanes * kLanes;
    // Stored A is m×k (lda along columns): op(A) row i is contiguous in k only when A is transposed.
    std::vector<float> a_rows, b_cols;
    bool tf32_a = tf32 && a.type == Element::F32, tf32_b = tf32 && b.type == Element::F32;
    pack(a, m, k, k_padded, a.transposed, tf32_a, a_rows);
    pack(b, n, k, k_padded, !b.transposed, tf32_b, b_cols);

    // Two threads (the CI machine's cores) only when the product is big enough to pay for starting them; each
    // output element is computed the same way whichever thread owns its column.
    constexpr double kParallelWork = 1 << 18;
    unsigned workers = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    if (double(m) * n * k < kParallelWork || n < 2 || workers == 1) {
        multiply_columns(m, k_padded, alpha, a_rows.data(), b_cols.data(), 0, n, product);
        return;
    }
    workers = std::min<unsigned>(workers, unsigned(n));
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < workers; ++w) {
        int begin = int(int64_t(n) * w / workers), end = int(int64_t(n) * (w + 1) / workers);
        threads.emplace_back(multiply_columns, m, k_padded, alpha, a_rows.data(), b_cols.data(), begin, end, product);
    }
    multiply_columns(m, k_padded, alpha, a_rows.data(), b_cols.data(), 0, int(n / workers), product);
    for (auto& t : threads) t.join();
}

void multiply_int8(int m, int n, int k, const Operand& a, const Operand& b, int32_t* product) {
    const int8_t* pa = static_cast<const int8_t*>(a.data);
    const int8_t* pb = static_cast<const int8_t*>(b.data);
    // op(A)[i, p] is A[p + i·lda] when transposed, else A[i + p·lda]; op(B)[p, j] likewise.
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            uint32_t sum = 0;
            for (int p = 0; p < k; ++p) {
                int32_t x = pa[a.transposed ? size_t(i) * a.ld + p : size_t(p) * a.ld + i];
                int32_t y = pb[b.transposed ? size_t(p) * b.ld + j : size_t(j) * b.ld + p];
                sum += uint32_t(x * y);
            }
            product[size_t(j) * m + i] = int32_t(sum);
        }
}

}  // namespace emu::blas
