// cuBLAS (cublas_api.h): handles and the two GEMMs the engine calls. Arguments are checked when called, as cuBLAS
// does; the product runs later on the handle's stream, inside work queued on the emulated driver.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "../driver/host_runtime.h"
#include "blas_common.h"

namespace emu::blas {
namespace {

struct Handle {
    void* stream = nullptr;
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
    int math_mode = 0;
};

// Live handles: a destroyed or made-up handle is refused with NOT_INITIALIZED instead of being dereferenced.
std::mutex handles_lock;
std::unordered_set<Handle*> handles;

bool lookup(void* raw, Handle* copy) {
    std::lock_guard<std::mutex> guard(handles_lock);
    auto* handle = static_cast<Handle*>(raw);
    if (!handles.count(handle)) return false;
    if (copy) *copy = *handle;
    return true;
}

template <typename Change>
int update(void* raw, const char* call, Change change) {
    std::lock_guard<std::mutex> guard(handles_lock);
    auto* handle = static_cast<Handle*>(raw);
    if (!handles.count(handle)) return fail(call, StatusNotInitialized, "unknown or destroyed handle");
    change(*handle);
    return StatusSuccess;
}

struct StridedGemm {
    int m, n, k;
    float alpha, beta;
    bool tf32;
    // The int8 GEMM (CUDA_R_8I in, CUDA_R_32I out, COMPUTE_32I): int32 scales, exact wrapping sums.
    bool integer;
    int32_t int_alpha, int_beta;
    Operand a, b;
    void* c;
    Element c_type;
    int64_t ldc;
    int64_t stride_a, stride_b, stride_c;  // in elements
    int batches;
};

// The byte range that `batches` matrices `stride` elements apart span, relative to the first matrix (negative
// strides reach below it).
void batched_span(int64_t rows, int64_t cols, int64_t ld, Element type, int64_t stride, int batches,
                  int64_t* first, uint64_t* bytes) {
    uint64_t one = matrix_span_bytes(rows, cols, ld, type);
    int64_t last = int64_t(batches - 1) * stride * int64_t(element_bytes(type));
    *first = last < 0 ? last : 0;
    *bytes = one == 0 ? 0 : uint64_t((last < 0 ? -last : last)) + one;
}

// The int8 product of each batch, then C = alpha·product + beta·C in int32, wrapping (alpha and beta are 0 or 1).
int run_int8(const StridedGemm& g) {
    std::vector<int32_t> product(size_t(g.m) * g.n);
    for (int batch = 0; batch < g.batches; ++batch) {
        Operand a = g.a, b = g.b;
        a.data = static_cast<const int8_t*>(a.data) + batch * g.stride_a;
        b.data = static_cast<const int8_t*>(b.data) + batch * g.stride_b;
        int32_t* c = static_cast<int32_t*>(g.c) + batch * g.stride_c;
        if (g.k > 0 && g.int_alpha != 0) multiply_int8(g.m, g.n, g.k, a, b, product.data());
        else std::fill(product.begin(), product.end(), 0);
        for (int j = 0; j < g.n; ++j)
            for (int i = 0; i < g.m; ++i) {
                size_t at = size_t(j) * g.ldc + i;
                uint32_t value = uint32_t(g.int_alpha) * uint32_t(product[size_t(j) * g.m + i]);
                if (g.int_beta != 0) value += uint32_t(g.int_beta) * uint32_t(c[at]);  // beta = 0 never reads C
                c[at] = int32_t(value);
            }
    }
    return CudaSuccess;
}

int run_strided(const char* call, const StridedGemm& g, std::string& message) {
    bool reads_ab = g.k > 0 && (g.integer ? g.int_alpha != 0 : g.alpha != 0.0f);
    int64_t first;
    uint64_t bytes;
    if (reads_ab) {
        batched_span(g.a.transposed ? g.k : g.m, g.a.transposed ? g.m : g.k, g.a.ld, g.a.type, g.stride_a, g.batches, &first, &bytes);
        if (!check_operand(call, "A", g.a.data, uint64_t(first), bytes, message)) return CudaErrorIllegalAddress;
        batched_span(g.b.transposed ? g.n : g.k, g.b.transposed ? g.k : g.n, g.b.ld, g.b.type, g.stride_b, g.batches, &first, &bytes);
        if (!check_operand(call, "B", g.b.data, uint64_t(first), bytes, message)) return CudaErrorIllegalAddress;
    }
    batched_span(g.m, g.n, g.ldc, g.c_type, g.stride_c, g.batches, &first, &bytes);
    if (!check_operand(call, "C", g.c, uint64_t(first), bytes, message)) return CudaErrorIllegalAddress;

    if (g.integer) return run_int8(g);
    std::vector<float> product(size_t(g.m) * g.n);
    for (int batch = 0; batch < g.batches; ++batch) {
        Operand a = g.a, b = g.b;
        a.data = static_cast<const char*>(a.data) + batch * g.stride_a * int64_t(element_bytes(a.type));
        b.data = static_cast<const char*>(b.data) + batch * g.stride_b * int64_t(element_bytes(b.type));
        char* c = static_cast<char*>(g.c) + batch * g.stride_c * int64_t(element_bytes(g.c_type));
        if (reads_ab) multiply(g.m, g.n, g.k, g.alpha, a, b, g.tf32, product.data());
        else std::fill(product.begin(), product.end(), 0.0f);
        for (int j = 0; j < g.n; ++j)
            for (int i = 0; i < g.m; ++i) {
                size_t at = size_t(j) * g.ldc + i;
                float value = product[size_t(j) * g.m + i];
                // beta == 0 must not read C: it may hold NaN (fresh allocations do, under the emulator).
                if (g.beta != 0.0f) value += g.beta * load_element(c, g.c_type, at);
                store_element(c, g.c_type, at, value);
            }
    }
    return CudaSuccess;
}

// cuBLAS's int8 GemmEx, after gemm's shared checks: A and B CUDA_R_8I, C CUDA_R_32I under CUBLAS_COMPUTE_32I[_PEDANTIC]
// with int32 alpha and beta, and the rules the cuBLAS documentation gives this path: alpha and beta 0 or 1, A and B
// 32-bit aligned, lda and ldb multiples of 4. cuBLAS also runs int8 in, fp32 out under COMPUTE_32F, which the emulator
// does not: refused as not emulated rather than computed some other way.
int gemm_int8(const char* call, const Handle& handle, int trans_a, int trans_b, int m, int n, int k, const void* alpha,
              const void* a, int a_type, int lda, int64_t stride_a, const void* b, int b_type, int ldb, int64_t stride_b,
              const void* beta, void* c, int c_type, int ldc, int64_t stride_c, int batches, int compute) {
    char reason[240];
    auto refuse = [&](int status) { return fail(call, status, reason); };
    if (a_type != DataR8I || b_type != DataR8I || c_type != DataR32I || (compute != Compute32I && compute != Compute32IPedantic)) {
        std::snprintf(reason, sizeof reason, "A type %d, B type %d, C type %d under compute type %d: the int8 GEMM is "
                      "CUDA_R_8I A and B, CUDA_R_32I C under CUBLAS_COMPUTE_32I (int8 in, fp32 out is not emulated)",
                      a_type, b_type, c_type, compute);
        return refuse(StatusNotSupported);
    }
    int32_t int_alpha = *static_cast<const int32_t*>(alpha), int_beta = *static_cast<const int32_t*>(beta);
    if ((int_alpha != 0 && int_alpha != 1) || (int_beta != 0 && int_beta != 1)) {
        std::snprintf(reason, sizeof reason, "int8 GEMM with alpha %d, beta %d: only 0 and 1 are supported", int_alpha, int_beta);
        return refuse(StatusNotSupported);
    }
    if (reinterpret_cast<uintptr_t>(a) % 4 != 0 || reinterpret_cast<uintptr_t>(b) % 4 != 0 || lda % 4 != 0 || ldb % 4 != 0) {
        std::snprintf(reason, sizeof reason, "int8 GEMM needs A and B 4-byte aligned (A %% 4 = %d, B %% 4 = %d) and lda, ldb "
                      "multiples of 4 (lda %d, ldb %d)", int(reinterpret_cast<uintptr_t>(a) % 4),
                      int(reinterpret_cast<uintptr_t>(b) % 4), lda, ldb);
        return refuse(StatusNotSupported);
    }
    if (m == 0 || n == 0 || batches == 0) return StatusSuccess;
    StridedGemm g{m, n, k, 0.0f, 0.0f, false, true, int_alpha, int_beta,
                  Operand{a, Element::I8, lda, trans_a != OpN}, Operand{b, Element::I8, ldb, trans_b != OpN}, c, Element::I32, ldc,
                  stride_a, stride_b, stride_c, batches};
    int queued = emu::enqueue(handle.stream, call, [g, call](std::string& message) { return run_strided(call, g, message); });
    if (queued != CudaSuccess) {
        std::snprintf(reason, sizeof reason, "the stream refused the work (CUresult %d)", queued);
        return refuse(StatusExecutionFailed);
    }
    return StatusSuccess;
}

int gemm(const char* call, void* raw_handle, int trans_a, int trans_b, int m, int n, int k, const void* alpha,
         const void* a, int a_type, int lda, int64_t stride_a, const void* b, int b_type, int ldb, int64_t stride_b,
         const void* beta, void* c, int c_type, int ldc, int64_t stride_c, int batches, int compute, int algo) {
    Handle handle;
    if (!lookup(raw_handle, &handle)) return fail(call, StatusNotInitialized, "unknown or destroyed handle");
    char reason[200];
    auto invalid = [&](int status) { return fail(call, status, reason); };
    if ((trans_a != OpN && trans_a != OpT && trans_a != OpC) || (trans_b != OpN && trans_b != OpT && trans_b != OpC)) {
        std::snprintf(reason, sizeof reason, "transa %d / transb %d is not N, T or C", trans_a, trans_b);
        return invalid(StatusInvalidValue);
    }
    if (m < 0 || n < 0 || k < 0 || batches < 0) {
        std::snprintf(reason, sizeof reason, "negative size m=%d n=%d k=%d batchCount=%d", m, n, k, batches);
        return invalid(StatusInvalidValue);
    }
    bool ta = trans_a != OpN, tb = trans_b != OpN;
    int a_rows = ta ? k : m, b_rows = tb ? n : k;
    if (lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m)) {
        std::snprintf(reason, sizeof reason, "lda=%d (needs ≥ %d), ldb=%d (needs ≥ %d), ldc=%d (needs ≥ %d)", lda,
                      std::max(1, a_rows), ldb, std::max(1, b_rows), ldc, std::max(1, m));
        return invalid(StatusInvalidValue);
    }
    if (!alpha || !beta) {
        std::snprintf(reason, sizeof reason, "alpha or beta is null");
        return invalid(StatusInvalidValue);
    }
    // cublasGemmAlgo_t: DEFAULT (-1), ALGO0..23, DEFAULT_TENSOR_OP (99), ALGO0..15_TENSOR_OP (100..115).
    if (!(algo == -1 || (algo >= 0 && algo <= 23) || (algo >= 99 && algo <= 115))) {
        std::snprintf(reason, sizeof reason, "unknown algo %d", algo);
        return invalid(StatusInvalidValue);
    }
    if (!is_known_compute_type(compute)) {
        std::snprintf(reason, sizeof reason, "unknown compute type %d", compute);
        return invalid(StatusInvalidValue);
    }
    if (compute == Compute32I || compute == Compute32IPedantic || a_type == DataR8I || b_type == DataR8I)
        return gemm_int8(call, handle, trans_a, trans_b, m, n, k, alpha, a, a_type, lda, stride_a, b, b_type, ldb,
                         stride_b, beta, c, c_type, ldc, stride_c, batches, compute);
    bool tf32 = false;
    Element a_element, b_element, c_element;
    if (a_type != b_type || !element_of(a_type, &a_element) || !element_of(b_type, &b_element) ||
        !element_of(c_type, &c_element) || !supported_combination(a_type, c_type, compute, handle.math_mode, &tf32)) {
        std::snprintf(reason, sizeof reason, "A type %d, B type %d, C type %d under compute type %d", a_type,
                      b_type, c_type, compute);
        return invalid(StatusNotSupported);
    }
    if (m == 0 || n == 0 || batches == 0) return StatusSuccess;

    // Pointer mode host: alpha and beta are read now, as cuBLAS reads host scalars at the call.
    StridedGemm g{m, n, k, *static_cast<const float*>(alpha), *static_cast<const float*>(beta), tf32, false, 0, 0,
                  Operand{a, a_element, lda, ta}, Operand{b, b_element, ldb, tb}, c, c_element, ldc,
                  stride_a, stride_b, stride_c, batches};
    int queued = emu::enqueue(handle.stream, call, [g, call](std::string& message) { return run_strided(call, g, message); });
    if (queued != CudaSuccess) {
        std::snprintf(reason, sizeof reason, "the stream refused the work (CUresult %d)", queued);
        return invalid(StatusExecutionFailed);
    }
    return StatusSuccess;
}

}  // namespace
}  // namespace emu::blas

using namespace emu::blas;

EMU_EXPORT int cublasCreate_v2(void** handle) {
    if (!handle) return fail("cublasCreate_v2", StatusInvalidValue, "handle is null");
    auto* made = new Handle();
    std::lock_guard<std::mutex> guard(handles_lock);
    handles.insert(made);
    *handle = made;
    return StatusSuccess;
}

EMU_EXPORT int cublasDestroy_v2(void* handle) {
    std::lock_guard<std::mutex> guard(handles_lock);
    auto* h = static_cast<Handle*>(handle);
    if (!handles.erase(h)) return fail("cublasDestroy_v2", StatusNotInitialized, "unknown or destroyed handle");
    // Queued GEMMs hold copies of what they need, so the handle can go while they are still pending.
    delete h;
    return StatusSuccess;
}

EMU_EXPORT int cublasGetVersion_v2(void* handle, int* version) {
    if (!lookup(handle, nullptr)) return fail("cublasGetVersion_v2", StatusNotInitialized, "unknown or destroyed handle");
    if (!version) return fail("cublasGetVersion_v2", StatusInvalidValue, "version is null");
    *version = kVersion;
    return StatusSuccess;
}

EMU_EXPORT int cublasSetStream_v2(void* handle, void* stream) {
    return update(handle, "cublasSetStream_v2", [&](Handle& h) { h.stream = stream; });
}

EMU_EXPORT int cublasSetWorkspace_v2(void* handle, void* workspace, size_t bytes) {
    return update(handle, "cublasSetWorkspace_v2", [&](Handle& h) { h.workspace = workspace; h.workspace_bytes = bytes; });
}

EMU_EXPORT int cublasSetMathMode(void* handle, int mode) {
    // cublasMath_t: DEFAULT 0, TENSOR_OP 1 (deprecated), PEDANTIC 2, TF32_TENSOR_OP 3, optionally with
    // CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION (16).
    if ((mode & 0xF) > 3 || (mode & ~0x1F) != 0) {
        if (!lookup(handle, nullptr)) return fail("cublasSetMathMode", StatusNotInitialized, "unknown or destroyed handle");
        return fail("cublasSetMathMode", StatusInvalidValue, "unknown math mode " + std::to_string(mode));
    }
    return update(handle, "cublasSetMathMode", [&](Handle& h) { h.math_mode = mode; });
}

EMU_EXPORT int cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha,
                            const void* A, int Atype, int lda, const void* B, int Btype, int ldb, const void* beta,
                            void* C, int Ctype, int ldc, int computeType, int algo) {
    return gemm("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C,
                Ctype, ldc, 0, 1, computeType, algo);
}

EMU_EXPORT int cublasGemmStridedBatchedEx(void* handle, int transa, int transb, int m, int n, int k,
                                          const void* alpha, const void* A, int Atype, int lda, long long strideA,
                                          const void* B, int Btype, int ldb, long long strideB, const void* beta,
                                          void* C, int Ctype, int ldc, long long strideC, int batchCount,
                                          int computeType, int algo) {
    return gemm("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B,
                Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo);
}
