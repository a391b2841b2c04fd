// Tests of the emulated cuBLAS, cuBLASLt and NCCL against naive references, linked with host_runtime_stub.cpp (work
// runs at once). Multi-rank NCCL runs as forked processes. Exits non-zero when anything fails, naming it.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "../blas/float16.h"

namespace emu_test {
extern int device;
extern int last_result;
extern std::string last_message;
extern uint64_t rejected_begin, rejected_end;
}  // namespace emu_test

extern "C" {
int cublasCreate_v2(void**);
int cublasDestroy_v2(void*);
int cublasGetVersion_v2(void*, int*);
int cublasSetStream_v2(void*, void*);
int cublasSetMathMode(void*, int);
int cublasGemmEx(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int, const void*, void*, int, int, int, int);
int cublasGemmStridedBatchedEx(void*, int, int, int, int, int, const void*, const void*, int, int, long long, const void*, int, int, long long,
                               const void*, void*, int, int, long long, int, int, int);
int cublasLtCreate(void**);
int cublasLtDestroy(void*);
int cublasLtMatmulDescCreate(void**, int, int);
int cublasLtMatmulDescDestroy(void*);
int cublasLtMatmulDescSetAttribute(void*, int, const void*, size_t);
int cublasLtMatrixLayoutCreate(void**, int, uint64_t, uint64_t, int64_t);
int cublasLtMatrixLayoutDestroy(void*);
int cublasLtMatmulPreferenceCreate(void**);
int cublasLtMatmulPreferenceDestroy(void*);
int cublasLtMatmulPreferenceSetAttribute(void*, int, const void*, size_t);
int cublasLtMatmulAlgoGetHeuristic(void*, void*, void*, void*, void*, void*, void*, int, void*, int*);
int cublasLtMatmul(void*, void*, const void*, const void*, void*, const void*, void*, const void*, const void*, void*, void*, void*, const void*, void*, size_t, void*);

struct ncclUniqueId { char internal[128]; };
int ncclGetVersion(int*);
int ncclGetUniqueId(ncclUniqueId*);
int ncclCommInitRank(void**, int, ncclUniqueId, int);
int ncclCommDestroy(void*);
int ncclCommSplit(void*, int, int, void**, void*);
int ncclCommCount(void*, int*);
int ncclCommUserRank(void*, int*);
int ncclCommAbort(void*);
int ncclCommGetAsyncError(void*, int*);
int ncclAllReduce(const void*, void*, size_t, int, int, void*, void*);
int ncclAllGather(const void*, void*, size_t, int, void*, void*);
int ncclReduceScatter(const void*, void*, size_t, int, int, void*, void*);
int ncclBroadcast(const void*, void*, size_t, int, int, void*, void*);
int ncclGroupStart();
int ncclGroupEnd();
}

namespace {

int failures = 0;
#define EXPECT(condition, ...)                                          \
    do {                                                                \
        if (!(condition)) {                                             \
            ++failures;                                                 \
            std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
            std::fprintf(stderr, __VA_ARGS__);                          \
            std::fprintf(stderr, "\n");                                 \
        }                                                               \
    } while (0)

using namespace emu::numeric;

enum { R32F = 0, R16F = 2, R16BF = 14 };
uint64_t rng_state = 0x9E3779B97F4A7C15ull;
float random_value() {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return float(int((rng_state >> 33) % 2001) - 1000) / 500.0f;
}

size_t bytes_of(int type) { return type == R32F ? 4 : 2; }
float load(const std::vector<uint8_t>& m, int type, size_t i) {
    if (type == R32F) { float f; std::memcpy(&f, &m[i * 4], 4); return f; }
    uint16_t h; std::memcpy(&h, &m[i * 2], 2);
    return type == R16F ? half_to_float(h) : bf16_to_float(h);
}
void store(std::vector<uint8_t>& m, int type, size_t i, float v) {
    if (type == R32F) { std::memcpy(&m[i * 4], &v, 4); return; }
    uint16_t h = type == R16F ? float_to_half(v) : float_to_bf16(v);
    std::memcpy(&m[i * 2], &h, 2);
}

// One GemmEx against a double-precision loop over the same (rounded) inputs.
void check_gemm(void* handle, int ab, int c_type, int compute, int ta, int tb, int m, int n, int k, int pad, float alpha, float beta) {
    int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    int lda = a_rows + pad, ldb = b_rows + pad, ldc = m + pad;
    std::vector<uint8_t> A(size_t(lda) * a_cols * bytes_of(ab)), B(size_t(ldb) * b_cols * bytes_of(ab)), C(size_t(ldc) * n * bytes_of(c_type));
    for (size_t i = 0; i < A.size() / bytes_of(ab); ++i) store(A, ab, i, random_value());
    for (size_t i = 0; i < B.size() / bytes_of(ab); ++i) store(B, ab, i, random_value());
    for (size_t i = 0; i < C.size() / bytes_of(c_type); ++i) store(C, c_type, i, beta == 0 ? NAN : random_value());
    std::vector<uint8_t> before = C;
    int status = cublasGemmEx(handle, ta, tb, m, n, k, &alpha, A.data(), ab, lda, B.data(), ab, ldb, &beta, C.data(), c_type, ldc, compute, -1);
    EXPECT(status == 0 && emu_test::last_result == 0, "GemmEx status %d work %d", status, emu_test::last_result);
    bool tf32 = compute == 77;
    int bad = 0;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double sum = 0, magnitude = 0;
            for (int p = 0; p < k; ++p) {
                float a = load(A, ab, ta ? size_t(i) * lda + p : size_t(p) * lda + i);
                float b = load(B, ab, tb ? size_t(p) * ldb + j : size_t(j) * ldb + p);
                if (tf32) { a = round_to_tf32(a); b = round_to_tf32(b); }
                sum += double(a) * b;
                magnitude += std::fabs(double(a) * b);
            }
            double old = beta == 0 ? 0 : load(before, c_type, size_t(j) * ldc + i);
            double want = alpha * sum + beta * old;
            double tolerance = 4e-6 * (std::fabs(alpha) * magnitude + std::fabs(beta * old)) + 1e-6;
            float got = load(C, c_type, size_t(j) * ldc + i);
            bool ok;
            if (c_type == R32F) ok = std::fabs(got - want) <= tolerance;
            else {
                // One rounding of (nearly) the exact value: the result is the rounding of a point within tolerance.
                std::vector<uint8_t> bounds(4);
                store(bounds, c_type, 0, float(want - tolerance));
                store(bounds, c_type, 1, float(want + tolerance));
                ok = got >= load(bounds, c_type, 0) && got <= load(bounds, c_type, 1);
            }
            if (!ok && bad++ < 3)
                EXPECT(false, "GemmEx ab=%d c=%d compute=%d t=%d%d m=%d n=%d k=%d pad=%d beta=%g: C[%d,%d]=%.9g want %.9g", ab, c_type,
                       compute, ta, tb, m, n, k, pad, beta, i, j, got, want);
        }
    // Padding rows of C stay as they were.
    for (int j = 0; j < n; ++j)
        for (int i = m; i < ldc; ++i)
            EXPECT(std::memcmp(&C[(size_t(j) * ldc + i) * bytes_of(c_type)], &before[(size_t(j) * ldc + i) * bytes_of(c_type)], bytes_of(c_type)) == 0,
                   "GemmEx wrote C padding at row %d", i);
}

void test_gemm() {
    void* handle = nullptr;
    EXPECT(cublasCreate_v2(&handle) == 0, "cublasCreate");
    int version = 0;
    EXPECT(cublasGetVersion_v2(handle, &version) == 0 && version > 0, "version");
    EXPECT(cublasSetStream_v2(handle, nullptr) == 0, "set stream");
    const int sizes[] = {1, 3, 17, 33};
    const int combos[][3] = {{R32F, R32F, 68}, {R32F, R32F, 69}, {R32F, R32F, 77}, {R16BF, R16BF, 68}, {R16BF, R32F, 68}, {R16F, R16F, 68}, {R16F, R32F, 68}};
    for (auto& combo : combos)
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb)
                for (int m : sizes)
                    for (int n : sizes)
                        for (int k : sizes) {
                            int pad = (m + n + k) % 3;
                            check_gemm(handle, combo[0], combo[1], combo[2], ta, tb, m, n, k, pad, 1.25f, (m + k) % 2 ? 0.0f : 0.5f);
                        }
    // Bigger than the threading threshold, to cover the column split.
    check_gemm(handle, R16BF, R32F, 68, 1, 0, 130, 97, 70, 2, 1.0f, 0.0f);
    check_gemm(handle, R32F, R32F, 68, 0, 1, 129, 131, 64, 0, -0.5f, 1.0f);
    // k = 0 scales C by beta; alpha = 0 does not read A.
    check_gemm(handle, R32F, R32F, 68, 0, 0, 5, 4, 0, 1, 1.0f, 0.5f);

    float alpha = 1, beta = 0;
    std::vector<float> a(64, 1), b(64, 1), c(64, 0);
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R32F, 3, b.data(), R32F, 4, &beta, c.data(), R32F, 4, 68, -1) == 7, "lda < m is INVALID_VALUE");
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 8, &alpha, a.data(), R32F, 4, b.data(), R32F, 8, &beta, c.data(), R32F, 4, 68, -1) == 7, "lda < k under T is INVALID_VALUE");
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R32F, 4, b.data(), R32F, 4, &beta, c.data(), R32F, 3, 68, -1) == 7, "ldc < m is INVALID_VALUE");
    EXPECT(cublasGemmEx(handle, 0, 0, -1, 4, 4, &alpha, a.data(), R32F, 4, b.data(), R32F, 4, &beta, c.data(), R32F, 4, 68, -1) == 7, "m < 0 is INVALID_VALUE");
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R16BF, 4, b.data(), R16F, 4, &beta, c.data(), R32F, 4, 68, -1) == 15, "mixed A/B types NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R16BF, 4, b.data(), R16BF, 4, &beta, c.data(), R16F, 4, 68, -1) == 15, "bf16 in, fp16 out NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R16BF, 4, b.data(), R16BF, 4, &beta, c.data(), R32F, 4, 77, -1) == 15, "tf32 with bf16 NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R32F, 4, b.data(), R32F, 4, &beta, c.data(), R32F, 4, 12345, -1) == 7, "unknown compute INVALID_VALUE");
    // A range that is not device memory fails the queued work with CUDA_ERROR_ILLEGAL_ADDRESS.
    emu_test::rejected_begin = uint64_t(b.data()) + 8;
    emu_test::rejected_end = emu_test::rejected_begin + 4;
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R32F, 4, b.data(), R32F, 4, &beta, c.data(), R32F, 4, 68, -1) == 0 &&
               emu_test::last_result == 700 && emu_test::last_message.find("operand B") != std::string::npos,
           "bad B range: work %d '%s'", emu_test::last_result, emu_test::last_message.c_str());
    emu_test::rejected_begin = emu_test::rejected_end = 0;

    // Strided batched: three 5×3×4 products, B shared (stride 0).
    int m = 5, n = 3, k = 4, batches = 3;
    std::vector<float> A(size_t(m) * k * batches), B(size_t(k) * n), C(size_t(m) * n * batches);
    for (auto& v : A) v = random_value();
    for (auto& v : B) v = random_value();
    EXPECT(cublasGemmStridedBatchedEx(handle, 0, 0, m, n, k, &alpha, A.data(), R32F, m, m * k, B.data(), R32F, k, 0, &beta, C.data(), R32F, m, m * n,
                                      batches, 68, -1) == 0 && emu_test::last_result == 0, "strided batched");
    for (int s = 0; s < batches; ++s)
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < m; ++i) {
                double want = 0;
                for (int p = 0; p < k; ++p) want += double(A[size_t(s) * m * k + p * m + i]) * B[j * k + p];
                EXPECT(std::fabs(C[size_t(s) * m * n + j * m + i] - want) < 1e-5, "batched [%d] %d,%d", s, i, j);
            }
    EXPECT(cublasDestroy_v2(handle) == 0, "destroy");
    EXPECT(cublasGemmEx(handle, 0, 0, 4, 4, 4, &alpha, a.data(), R32F, 4, b.data(), R32F, 4, &beta, c.data(), R32F, 4, 68, -1) == 1, "destroyed handle is NOT_INITIALIZED");
    EXPECT(cublasSetStream_v2(handle, nullptr) == 1, "destroyed handle set stream");
}

// int8 GemmEx (CUDA_R_8I in, CUDA_R_32I out, COMPUTE_32I) against an int64 loop, every op(A)/op(B) form, values
// including −128 and 127, sums that wrap int32 included (exact modulo 2^32, like the hardware); then its refusals.
void test_gemm_int8() {
    void* handle = nullptr;
    EXPECT(cublasCreate_v2(&handle) == 0, "cublasCreate");
    auto byte = [] {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        int v = int((rng_state >> 33) % 256) - 128;
        return int8_t(v);
    };
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
            for (int m : {4, 8, 20})
                for (int n : {1, 3, 17})
                    for (int k : {4, 12, 36}) {
                        int lda = ((ta ? k : m) + 3) / 4 * 4 + 4, ldb = ((tb ? n : k) + 3) / 4 * 4 + 4, ldc = m + 1;  // the path's rule: multiples of 4
                        std::vector<int8_t> A(size_t(lda) * (ta ? m : k)), B(size_t(ldb) * (tb ? k : n));
                        for (auto& v : A) v = byte();
                        for (auto& v : B) v = byte();
                        A[0] = -128; B[0] = -128; A[1] = 127;
                        std::vector<int32_t> C(size_t(ldc) * n, 0x7F7F7F7F), before = C;
                        int32_t alpha = 1, beta = (m + n) % 2;
                        int status = cublasGemmEx(handle, ta, tb, m, n, k, &alpha, A.data(), 3, lda, B.data(), 3, ldb, &beta, C.data(), 10, ldc, 72, -1);
                        EXPECT(status == 0 && emu_test::last_result == 0, "int8 GemmEx status %d work %d", status, emu_test::last_result);
                        for (int j = 0; j < n; ++j)
                            for (int i = 0; i < m; ++i) {
                                int64_t want = 0;
                                for (int p = 0; p < k; ++p)
                                    want += int64_t(A[ta ? size_t(i) * lda + p : size_t(p) * lda + i]) * B[tb ? size_t(p) * ldb + j : size_t(j) * ldb + p];
                                if (beta) want += before[size_t(j) * ldc + i];
                                int32_t got = C[size_t(j) * ldc + i];
                                EXPECT(got == int32_t(uint32_t(uint64_t(want))), "int8 GemmEx t=%d%d m=%d n=%d k=%d: C[%d,%d]=%d want %lld", ta, tb, m, n, k, i, j, got, (long long)want);
                            }
                        for (int j = 0; j < n; ++j) EXPECT(C[size_t(j) * ldc + m] == 0x7F7F7F7F, "int8 GemmEx wrote C padding");
                    }
    // int32 wraps: 4 products of 127·127 added to INT32_MAX − 1 (beta = 1) come back modulo 2^32.
    {
        std::vector<int8_t> A(4, 127), B(4, 127);
        std::vector<int32_t> C(4, INT32_MAX - 1);
        int32_t alpha = 1, beta = 1;
        EXPECT(cublasGemmEx(handle, 1, 0, 1, 1, 4, &alpha, A.data(), 3, 4, B.data(), 3, 4, &beta, C.data(), 10, 4, 72, -1) == 0, "wrap call");
        EXPECT(C[0] == int32_t(uint32_t(INT32_MAX - 1) + 4u * 127u * 127u), "int32 wrap: %d", C[0]);
    }
    std::vector<int8_t> a(64, 1), b(64, 1);
    std::vector<int32_t> c(64, 0);
    int32_t one = 1, zero = 0, two = 2;
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 4, &two, a.data(), 3, 4, b.data(), 3, 4, &zero, c.data(), 10, 4, 72, -1) == 15, "int8 alpha 2 NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 6, &one, a.data(), 3, 6, b.data(), 3, 6, &zero, c.data(), 10, 4, 72, -1) == 15, "int8 lda 6 NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 4, &one, a.data() + 1, 3, 4, b.data(), 3, 4, &zero, c.data(), 10, 4, 72, -1) == 15, "int8 unaligned A NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 4, &one, a.data(), 3, 4, b.data(), 3, 4, &zero, c.data(), 0, 4, 72, -1) == 15, "int8 in, fp32 C NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 4, &one, a.data(), 3, 4, b.data(), 3, 4, &zero, c.data(), 10, 4, 68, -1) == 15, "int8 under COMPUTE_32F NOT_SUPPORTED");
    EXPECT(cublasGemmEx(handle, 1, 0, 4, 4, 4, &one, a.data(), 0, 4, b.data(), 0, 4, &zero, c.data(), 0, 4, 72, -1) == 15, "fp32 under COMPUTE_32I NOT_SUPPORTED");
    EXPECT(cublasDestroy_v2(handle) == 0, "cublasDestroy");
}

void test_lt() {
    void *lt, *desc, *la, *lb, *lc, *pref;
    int m = 6, n = 5, k = 7;
    EXPECT(cublasLtCreate(&lt) == 0 && cublasLtMatmulDescCreate(&desc, 68, R32F) == 0, "Lt create");
    int trans_a = 1;
    uint32_t epilogue = 164;  // GELU_AUX_BIAS
    std::vector<float> A(size_t(k) * m), B(size_t(k) * n), D(size_t(m) * n), aux(size_t(8) * n), bias(m);
    for (auto& v : A) v = random_value();
    for (auto& v : B) v = random_value();
    for (auto& v : bias) v = random_value();
    const void* bias_pointer = bias.data();
    void* aux_pointer = aux.data();
    int64_t aux_ld = 8;
    EXPECT(cublasLtMatmulDescSetAttribute(desc, 3, &trans_a, 4) == 0 && cublasLtMatmulDescSetAttribute(desc, 7, &epilogue, 4) == 0 &&
               cublasLtMatmulDescSetAttribute(desc, 8, &bias_pointer, 8) == 0 && cublasLtMatmulDescSetAttribute(desc, 11, &aux_pointer, 8) == 0 &&
               cublasLtMatmulDescSetAttribute(desc, 12, &aux_ld, 8) == 0, "Lt attributes");
    EXPECT(cublasLtMatrixLayoutCreate(&la, R32F, k, m, k) == 0 && cublasLtMatrixLayoutCreate(&lb, R32F, k, n, k) == 0 &&
               cublasLtMatrixLayoutCreate(&lc, R32F, m, n, m) == 0 && cublasLtMatmulPreferenceCreate(&pref) == 0, "Lt layouts");
    uint64_t workspace = 1 << 20;
    EXPECT(cublasLtMatmulPreferenceSetAttribute(pref, 1, &workspace, 8) == 0, "Lt preference");
    unsigned char result[96];
    int returned = 0;
    EXPECT(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, result, &returned) == 0 && returned == 1, "heuristic");
    float alpha = 1, beta = 0;
    EXPECT(cublasLtMatmul(lt, desc, &alpha, A.data(), la, B.data(), lb, &beta, D.data(), lc, D.data(), lc, result, nullptr, 0, nullptr) == 0 &&
               emu_test::last_result == 0, "Lt matmul");
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double pre = bias[i];
            for (int p = 0; p < k; ++p) pre += double(A[i * k + p]) * B[j * k + p];
            double gelu = 0.5 * pre * (1 + std::tanh(0.7978845608028654 * (pre + 0.044715 * pre * pre * pre)));
            EXPECT(std::fabs(aux[j * 8 + i] - pre) < 1e-5 && std::fabs(D[j * m + i] - gelu) < 1e-5, "Lt GELU_AUX_BIAS %d,%d", i, j);
        }
    uint32_t dgelu = 192;
    EXPECT(cublasLtMatmulDescSetAttribute(desc, 7, &dgelu, 4) == 0 &&
               cublasLtMatmul(lt, desc, &alpha, A.data(), la, B.data(), lb, &beta, D.data(), lc, D.data(), lc, nullptr, nullptr, 0, nullptr) == 15,
           "DGELU is NOT_SUPPORTED");
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la); cublasLtMatrixLayoutDestroy(lb); cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
    EXPECT(cublasLtDestroy(lt) == 0, "Lt destroy");
}

// ---- NCCL ----

enum { Int8, Uint8, Int32, Uint32, Int64, Uint64, Float16, Float32, Float64, Bfloat16 };
size_t nccl_bytes(int t) { return t <= Uint8 ? 1 : t == Float16 || t == Bfloat16 ? 2 : t <= Uint32 || t == Float32 ? 4 : 8; }

// Element `i` of rank `r`'s input, as a double that every type holds exactly.
double input_value(int type, int r, size_t i) {
    int v = int((i * 7 + r * 13) % 23) - 11;
    if (type == Uint8 || type == Uint32 || type == Uint64) v = (v + 11) % 5;
    if (type == Int8 || type == Uint8) v = v % 5;
    return double(v) + ((type == Float32 || type == Float64 || type == Float16 || type == Bfloat16) ? 0.25 * r : 0);
}
void put(void* base, int type, size_t i, double v) {
    switch (type) {
        case Int8: static_cast<int8_t*>(base)[i] = int8_t(v); break;
        case Uint8: static_cast<uint8_t*>(base)[i] = uint8_t(v); break;
        case Int32: static_cast<int32_t*>(base)[i] = int32_t(v); break;
        case Uint32: static_cast<uint32_t*>(base)[i] = uint32_t(v); break;
        case Int64: static_cast<int64_t*>(base)[i] = int64_t(v); break;
        case Uint64: static_cast<uint64_t*>(base)[i] = uint64_t(v); break;
        case Float16: static_cast<uint16_t*>(base)[i] = float_to_half(float(v)); break;
        case Float32: static_cast<float*>(base)[i] = float(v); break;
        case Float64: static_cast<double*>(base)[i] = v; break;
        case Bfloat16: static_cast<uint16_t*>(base)[i] = float_to_bf16(float(v)); break;
    }
}
double get(const void* base, int type, size_t i) {
    switch (type) {
        case Int8: return static_cast<const int8_t*>(base)[i];
        case Uint8: return static_cast<const uint8_t*>(base)[i];
        case Int32: return static_cast<const int32_t*>(base)[i];
        case Uint32: return static_cast<const uint32_t*>(base)[i];
        case Int64: return double(static_cast<const int64_t*>(base)[i]);
        case Uint64: return double(static_cast<const uint64_t*>(base)[i]);
        case Float16: return half_to_float(static_cast<const uint16_t*>(base)[i]);
        case Float32: return static_cast<const float*>(base)[i];
        case Float64: return static_cast<const double*>(base)[i];
        case Bfloat16: return bf16_to_float(static_cast<const uint16_t*>(base)[i]);
    }
    return 0;
}
double reduce_reference(int type, int op, int world, size_t i) {
    double acc = input_value(type, 0, i);
    for (int r = 1; r < world; ++r) {
        double v = input_value(type, r, i);
        acc = op == 0 || op == 4 ? acc + v : op == 1 ? acc * v : op == 2 ? std::max(acc, v) : std::min(acc, v);
    }
    if (op == 4) acc = (type == Float16 || type == Bfloat16 || type == Float32 || type == Float64) ? acc / world : std::trunc(acc / world);
    return acc;
}
double get_value_stored(int type, int r, size_t i) {
    unsigned char rounded[8];
    put(rounded, type, 0, input_value(type, r, i));
    return get(rounded, type, 0);
}
bool is_unsigned(int t) { return t == Uint8 || t == Uint32 || t == Uint64; }

// Runs every collective for every type on one rank of `world`; returns the failures it saw. The results every rank
// computes are written to `results` (one region per rank) so the parent can compare ranks bit for bit.
int run_collectives(void* comm, int rank, int world, unsigned char* results) {
    int before = failures;
    const size_t count = 70001;  // several slots' worth for the 8-byte types, and not a multiple of anything
    for (int type = Int8; type <= Bfloat16; ++type) {
        size_t e = nccl_bytes(type);
        std::vector<unsigned char> send(count * e * world), receive(count * e * world);
        for (int op = 0; op <= 4; ++op) {
            if (op == 1 && type != Float64) continue;  // products of many ranks overflow the small types
            if (is_unsigned(type) && op == 4) continue;
            for (size_t i = 0; i < count; ++i) put(send.data(), type, i, input_value(type, rank, i));
            EXPECT(ncclAllReduce(send.data(), receive.data(), count, type, op, comm, nullptr) == 0 && emu_test::last_result == 0,
                   "allreduce type %d op %d: %s", type, op, emu_test::last_message.c_str());
            int bad = 0;
            for (size_t i = 0; i < count && bad < 3; ++i) {
                double want = reduce_reference(type, op, world, i);
                std::vector<unsigned char> rounded(8);
                put(rounded.data(), type, 0, want);
                double want_stored = get(rounded.data(), type, 0);
                if (get(receive.data(), type, i) != want_stored) {
                    ++bad;
                    EXPECT(false, "rank %d allreduce type %d op %d [%zu] = %g want %g", rank, type, op, i, get(receive.data(), type, i), want_stored);
                }
            }
            if (results && op == 0) std::memcpy(results + size_t(rank) * (1 << 20), receive.data(), std::min<size_t>(count * e, 1 << 20));
        }
        // In-place all-reduce.
        for (size_t i = 0; i < count; ++i) put(send.data(), type, i, input_value(type, rank, i));
        EXPECT(ncclAllReduce(send.data(), send.data(), count, type, 2, comm, nullptr) == 0 &&
                   get(send.data(), type, 5) == reduce_reference(type, 2, world, 5),
               "in-place allreduce max type %d", type);
        // All-gather, in place at this rank's block.
        for (size_t i = 0; i < count; ++i) put(receive.data() + rank * count * e, type, i, input_value(type, rank, i));
        EXPECT(ncclAllGather(receive.data() + rank * count * e, receive.data(), count, type, comm, nullptr) == 0 && emu_test::last_result == 0, "allgather");
        for (int r = 0; r < world; ++r)
            for (size_t i = 0; i < count; i += 997) EXPECT(get(receive.data(), type, r * count + i) == get_value_stored(type, r, i), "allgather type %d rank %d [%zu]", type, r, i);
        // Reduce-scatter (sum): block q of each rank's send goes to rank q.
        size_t per = count / world;
        for (int q = 0; q < world; ++q)
            for (size_t i = 0; i < per; ++i) put(send.data(), type, q * per + i, input_value(type, rank, q * per + i));
        EXPECT(ncclReduceScatter(send.data(), receive.data(), per, type, 0, comm, nullptr) == 0 && emu_test::last_result == 0, "reduce-scatter");
        for (size_t i = 0; i < per; i += 331) {
            std::vector<unsigned char> rounded(8);
            put(rounded.data(), type, 0, reduce_reference(type, 0, world, rank * per + i));
            EXPECT(get(receive.data(), type, i) == get(rounded.data(), type, 0), "reduce-scatter type %d [%zu]", type, i);
        }
        // Broadcast from the last rank.
        int root = world - 1;
        for (size_t i = 0; i < count; ++i) put(send.data(), type, i, input_value(type, rank, i));
        EXPECT(ncclBroadcast(send.data(), receive.data(), count, type, root, comm, nullptr) == 0 && emu_test::last_result == 0, "broadcast");
        for (size_t i = 0; i < count; i += 101) EXPECT(get(receive.data(), type, i) == get_value_stored(type, root, i), "broadcast type %d [%zu]", type, i);
    }
    EXPECT(ncclGroupStart() == 0 && ncclGroupEnd() == 0 && ncclGroupEnd() == 5, "group balance");
    return failures - before;
}

void test_nccl_single() {
    int version = 0;
    EXPECT(ncclGetVersion(&version) == 0 && version == 22803, "version %d", version);
    ncclUniqueId id;
    void* comm = nullptr;
    EXPECT(ncclGetUniqueId(&id) == 0 && ncclCommInitRank(&comm, 1, id, 0) == 0, "init world 1");
    int count = 0, rank = -1;
    EXPECT(ncclCommCount(comm, &count) == 0 && count == 1 && ncclCommUserRank(comm, &rank) == 0 && rank == 0, "count/rank");
    run_collectives(comm, 0, 1, nullptr);
    void* child = nullptr;
    EXPECT(ncclCommSplit(comm, 3, 0, &child, nullptr) == 0 && child != nullptr, "split world 1");
    float x = 2;
    EXPECT(ncclAllReduce(&x, &x, 1, Float32, 0, child, nullptr) == 0 && x == 2, "child all-reduce");
    int error = -1;
    EXPECT(ncclCommGetAsyncError(comm, &error) == 0 && error == 0, "async error");
    EXPECT(ncclAllReduce(&x, &x, 1, 42, 0, comm, nullptr) == 4, "bad type is ncclInvalidArgument");
    EXPECT(ncclBroadcast(&x, &x, 1, Float32, 1, comm, nullptr) == 4, "bad root is ncclInvalidArgument");
    EXPECT(ncclCommDestroy(child) == 0 && ncclCommDestroy(comm) == 0, "destroy");
    EXPECT(ncclCommCount(comm, &count) == 4, "destroyed communicator");
}

// Forks `world` ranks that join one unique id (rank r on emulated device devices(r)) and run `body`; returns how
// many ranks failed.
int run_ranks(int world, std::function<int(int rank, void* comm)> body, std::function<int(int)> device_of = [](int r) { return r; },
              int expect_init = 0) {
    ncclUniqueId id;
    ncclGetUniqueId(&id);
    std::vector<pid_t> children;
    for (int rank = 0; rank < world; ++rank) {
        pid_t pid = fork();
        if (pid == 0) {
            emu_test::device = device_of(rank);
            void* comm = nullptr;
            int init = ncclCommInitRank(&comm, world, id, rank);
            if (init != expect_init) {
                std::fprintf(stderr, "FAIL rank %d: ncclCommInitRank returned %d, expected %d\n", rank, init, expect_init);
                _exit(1);
            }
            int failed = init == 0 ? body(rank, comm) : 0;
            _exit(failed ? 1 : 0);
        }
        children.push_back(pid);
    }
    int failed = 0;
    for (pid_t pid : children) {
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    return failed;
}

void test_nccl_ranks(int world) {
    auto* shared = static_cast<unsigned char*>(mmap(nullptr, size_t(world) << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    std::memset(shared, 0, size_t(world) << 20);
    int failed = run_ranks(world, [&](int rank, void* comm) {
        int n = run_collectives(comm, rank, world, shared);
        ncclCommDestroy(comm);
        return n;
    });
    EXPECT(failed == 0, "%d of %d ranks failed the collectives", failed, world);
    for (int r = 1; r < world; ++r) EXPECT(std::memcmp(shared, shared + (size_t(r) << 20), 1 << 20) == 0, "rank %d's sums differ from rank 0's bits", r);
    munmap(shared, size_t(world) << 20);

    // Split: colors by parity, keys reversed.
    failed = run_ranks(world, [&](int rank, void* comm) {
        int before = failures;
        void* child = nullptr;
        int color = rank % 2 == 0 ? 0 : (world > 2 ? 1 : -1);
        EXPECT(ncclCommSplit(comm, color, -rank, &child, nullptr) == 0, "split");
        double value = rank, sum = 0;
        if (color == -1) {
            EXPECT(child == nullptr, "no-color rank got a communicator");
            EXPECT(ncclAllReduce(&value, &sum, 1, Float64, 0, comm, nullptr) == 0 && sum == world * (world - 1) / 2.0, "parent after split");
            return failures - before;
        }
        int size = 0, new_rank = -1;
        ncclCommCount(child, &size);
        ncclCommUserRank(child, &new_rank);
        int expected_size = 0, expected_rank = 0;
        for (int r = 0; r < world; ++r)
            if ((r % 2 == 0 ? 0 : 1) == rank % 2) { ++expected_size; if (r > rank) ++expected_rank; }
        EXPECT(size == expected_size && new_rank == expected_rank, "split rank %d: size %d rank %d, want %d %d", rank, size, new_rank, expected_size, expected_rank);
        EXPECT(ncclAllReduce(&value, &sum, 1, Float64, 0, child, nullptr) == 0 && emu_test::last_result == 0, "child all-reduce");
        double want = 0;
        for (int r = rank % 2; r < world; r += 2) want += r;
        EXPECT(sum == want, "child sum %g want %g", sum, want);
        // The parent still works after the split.
        EXPECT(ncclAllReduce(&value, &sum, 1, Float64, 0, comm, nullptr) == 0 && sum == world * (world - 1) / 2.0, "parent after split");
        ncclCommDestroy(child);
        ncclCommDestroy(comm);
        return failures - before;
    });
    EXPECT(failed == 0, "split with %d ranks: %d failed", world, failed);
}

void test_nccl_failures() {
    // Rank 1 never joins the collective: an abort from another thread must end rank 0's wait.
    int failed = run_ranks(2, [](int rank, void* comm) {
        int before = failures;
        if (rank == 1) { sleep(4); return 0; }
        std::thread watchdog([comm] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); ncclCommAbort(comm); });
        float x = 1;
        auto start = std::chrono::steady_clock::now();
        ncclAllReduce(&x, &x, 1, Float32, 0, comm, nullptr);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        watchdog.join();
        EXPECT(emu_test::last_result != 0 && seconds < 2, "abort: work %d after %.2f s", emu_test::last_result, seconds);
        return failures - before;
    });
    EXPECT(failed == 0, "abort test failed");
    // Two ranks on one emulated device are refused, as NCCL refuses two ranks on one GPU.
    failed = run_ranks(2, [](int, void*) { return 0; }, [](int) { return 0; }, 5);
    EXPECT(failed == 0, "duplicate device was not ncclInvalidUsage");
    // Ranks that disagree on the collective fail instead of exchanging garbage.
    failed = run_ranks(2, [](int rank, void* comm) {
        int before = failures;
        float x[4] = {};
        ncclAllReduce(x, x, rank == 0 ? 4 : 3, Float32, 0, comm, nullptr);
        EXPECT(emu_test::last_result != 0 && emu_test::last_message.find("disagree") != std::string::npos, "mismatch: %s", emu_test::last_message.c_str());
        return failures - before;
    });
    EXPECT(failed == 0, "mismatch test failed");
}

}  // namespace

int main() {
    test_gemm();
    test_gemm_int8();
    std::printf("gemm: %d failures so far\n", failures);
    test_lt();
    test_nccl_single();
    std::printf("nccl world 1: %d failures so far\n", failures);
    test_nccl_ranks(2);
    test_nccl_ranks(3);
    std::printf("nccl 2 and 3 ranks: %d failures so far\n", failures);
    test_nccl_failures();
    if (failures) { std::printf("FAILED: %d checks\n", failures); return 1; }
    std::printf("all blas/nccl tests passed\n");
    return 0;
}
