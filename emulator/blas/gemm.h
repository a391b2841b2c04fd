// The matrix product behind cublasGemmEx, cublasGemmStridedBatchedEx and cublasLtMatmul, on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace emu::blas {

enum class Element { F32, F16, BF16 };

inline size_t element_bytes(Element e) { return e == Element::F32 ? 4 : 2; }

// One column-major operand as cuBLAS sees it: `transposed` means op(X) = Xᵀ.
struct Operand {
    const void* data = nullptr;
    Element type = Element::F32;
    int64_t ld = 0;
    bool transposed = false;
};

// product (m×n, column-major, leading dimension m) = alpha · op(A) · op(B), accumulated in fp32 over k in one
// fixed order, so the same call gives the same bits on any thread count. tf32 rounds fp32 operands to 10-bit
// mantissas first.
void multiply(int m, int n, int k, float alpha, const Operand& a, const Operand& b, bool tf32, float* product);

float load_element(const void* base, Element type, size_t index);
// Rounds once, to nearest even (NaN → the canonical 0x7FFF for 16-bit types).
void store_element(void* base, Element type, size_t index, float value);

// The bytes [first, last) that an m-rows × n-columns column-major matrix with leading dimension ld spans.
inline uint64_t matrix_span_bytes(int64_t rows, int64_t cols, int64_t ld, Element type) {
    if (rows <= 0 || cols <= 0) return 0;
    return uint64_t((cols - 1) * ld + rows) * element_bytes(type);
}

}  // namespace emu::blas
