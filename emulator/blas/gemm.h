// The matrix product behind cublasGemmEx, cublasGemmStridedBatchedEx and cublasLtMatmul, on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace emu::blas {

// I8 and I32 are cuBLAS's int8 GEMM (CUDA_R_8I in, CUDA_R_32I out): only multiply_int8 reads and writes them.
enum class Element { F32, F16, BF16, I8, I32 };

inline size_t element_bytes(Element e) {
    switch (e) {
        case Element::F16: case Element::BF16: return 2;
        case Element::I8: return 1;
        default: return 4;
    }
}

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

// product (m×n, column-major, leading dimension m) = op(A) · op(B) for int8 operands, summed in int32 wrapping modulo
// 2^32 (unsigned arithmetic), which is exact whenever the true sum fits in int32, as on a GPU.
void multiply_int8(int m, int n, int k, const Operand& a, const Operand& b, int32_t* product);

float load_element(const void* base, Element type, size_t index);
// Rounds once, to nearest even (NaN → the canonical 0x7FFF for 16-bit types).
void store_element(void* base, Element type, size_t index, float value);

// The bytes [first, last) that an m-rows × n-columns column-major matrix with leading dimension ld spans.
inline uint64_t matrix_span_bytes(int64_t rows, int64_t cols, int64_t ld, Element type) {
    if (rows <= 0 || cols <= 0) return 0;
    return uint64_t((cols - 1) * ld + rows) * element_bytes(type);
}

}  // namespace emu::blas
