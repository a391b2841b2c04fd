// cuBLASLt (cublasLt.h): descriptors, layouts, preferences, the heuristic, and cublasLtMatmul with the epilogues the
// engine's forward pass can fuse (bias, tanh-GELU, GELU keeping its input as aux). The backward epilogues (dGELU,
// bias gradients) and ReLU are refused with NOT_SUPPORTED, loudly, rather than computed wrongly.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "../driver/host_runtime.h"
#include "blas_common.h"

namespace emu::blas {
namespace {

// cublasLtEpilogue_t
enum : uint32_t { EpiDefault = 1, EpiBias = 4, EpiGelu = 32, EpiGeluAux = 160, EpiGeluBias = 36, EpiGeluAuxBias = 164 };
// cublasLtMatmulDescAttributes_t
enum : int {
    DescComputeType = 0, DescScaleType = 1, DescPointerMode = 2, DescTransA = 3, DescTransB = 4, DescTransC = 5,
    DescEpilogue = 7, DescBiasPointer = 8, DescBiasBatchStride = 10, DescAuxPointer = 11, DescAuxLd = 12,
    DescAuxBatchStride = 13, DescAuxDataType = 22, DescBiasDataType = 26,
};
// cublasLtMatrixLayoutAttribute_t
enum : int { LayoutType = 0, LayoutOrder = 1, LayoutRows = 2, LayoutCols = 3, LayoutLd = 4, LayoutBatchCount = 5, LayoutBatchOffset = 6 };

struct MatmulDesc {
    int compute, scale_type;
    int pointer_mode = 0, trans_a = OpN, trans_b = OpN, trans_c = OpN;
    uint32_t epilogue = EpiDefault;
    const void* bias = nullptr;
    int64_t bias_stride = 0;
    void* aux = nullptr;
    int64_t aux_ld = 0, aux_stride = 0;
    int aux_type = -1, bias_type = -1;  // -1: the D type, cuBLASLt's default
};

struct Layout {
    int type;
    uint64_t rows, cols;
    int64_t ld;
    int order = 0;  // CUBLASLT_ORDER_COL
    int batch_count = 1;
    int64_t batch_offset = 0;
};

struct Preference {
    uint64_t max_workspace = 0;
};

struct LtHandle {};

// Every object this library made and has not destroyed, so a stale pointer is refused rather than dereferenced.
std::mutex objects_lock;
std::unordered_set<const void*> objects;

template <typename T>
int create(T** out, T value, const char* call) {
    if (!out) return fail(call, StatusInvalidValue, "output pointer is null");
    T* made = new T(value);
    std::lock_guard<std::mutex> guard(objects_lock);
    objects.insert(made);
    *out = made;
    return StatusSuccess;
}

template <typename T>
int destroy(T* object, const char* call) {
    if (!object) return StatusSuccess;  // cuBLASLt accepts null, as free() does
    std::lock_guard<std::mutex> guard(objects_lock);
    if (!objects.erase(object)) return fail(call, StatusInvalidValue, "unknown or destroyed object");
    delete object;
    return StatusSuccess;
}

bool live(const void* object) {
    std::lock_guard<std::mutex> guard(objects_lock);
    return object && objects.count(object);
}

template <typename T>
bool read_attribute(const void* buffer, size_t bytes, T* value) {
    if (!buffer || bytes != sizeof(T)) return false;
    std::memcpy(value, buffer, sizeof(T));
    return true;
}

// The rows and columns of op(X) for a layout read under a transpose.
void op_shape(const Layout& l, int trans, uint64_t* rows, uint64_t* cols) {
    *rows = trans == OpN ? l.rows : l.cols;
    *cols = trans == OpN ? l.cols : l.rows;
}

float gelu_tanh(float x) {
    // The tanh approximation: what cuBLASLt's GELU epilogues compute.
    const float k = 0.7978845608028654f;  // sqrt(2/π)
    return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

struct MatmulPlan {
    const char* reason = nullptr;
    char text[200] = {};
    int status = StatusSuccess;
    bool tf32 = false;
    int m = 0, n = 0, k = 0, batches = 1;
    Element a_type{}, b_type{}, c_type{}, d_type{}, bias_type{}, aux_type{};
};

// Checks a matmul's descriptors the way cuBLASLt does before it looks for an algorithm.
MatmulPlan plan(const MatmulDesc& d, const Layout& a, const Layout& b, const Layout& c, const Layout& dl) {
    MatmulPlan p;
    auto refuse = [&](int status, const char* why) { p.status = status; std::snprintf(p.text, sizeof p.text, "%s", why); return p; };
    if (a.order || b.order || c.order || dl.order) return refuse(StatusNotSupported, "only column-major layouts are emulated");
    if (d.trans_c != OpN) return refuse(StatusNotSupported, "TRANSC must be N");
    if (d.pointer_mode != 0) return refuse(StatusNotSupported, "only host pointer mode is emulated");
    if (d.scale_type != DataR32F) return refuse(StatusNotSupported, "scale type must be CUDA_R_32F");
    uint64_t am, ak, bk, bn;
    op_shape(a, d.trans_a, &am, &ak);
    op_shape(b, d.trans_b, &bk, &bn);
    if (ak != bk || am != dl.rows || bn != dl.cols || c.rows != dl.rows || c.cols != dl.cols)
        return refuse(StatusInvalidValue, "op(A), op(B), C and D shapes do not agree");
    if (dl.rows > INT32_MAX || dl.cols > INT32_MAX || ak > INT32_MAX) return refuse(StatusNotSupported, "dimension above 2^31");
    if (c.type != dl.type) return refuse(StatusNotSupported, "C and D types differ");
    if (a.type != b.type || !element_of(a.type, &p.a_type) || !element_of(b.type, &p.b_type) ||
        !element_of(dl.type, &p.d_type) || !supported_combination(a.type, dl.type, d.compute, 0, &p.tf32))
        return refuse(StatusNotSupported, "A/B/D types under this compute type");
    p.c_type = p.d_type;
    p.batches = dl.batch_count;
    for (const Layout* l : {&a, &b, &c})
        if (l->batch_count != p.batches && l->batch_count != 1) return refuse(StatusInvalidValue, "batch counts differ");
    p.m = int(dl.rows); p.n = int(dl.cols); p.k = int(ak);
    switch (d.epilogue) {
        case EpiDefault: case EpiBias: case EpiGelu: case EpiGeluAux: case EpiGeluBias: case EpiGeluAuxBias: break;
        default: {
            p.status = StatusNotSupported;
            std::snprintf(p.text, sizeof p.text, "epilogue %u is not emulated (DEFAULT, BIAS, GELU, GELU_BIAS, GELU_AUX, GELU_AUX_BIAS are)", d.epilogue);
            return p;
        }
    }
    if ((d.epilogue & EpiBias) && !d.bias) return refuse(StatusInvalidValue, "a bias epilogue without BIAS_POINTER");
    if ((d.epilogue & 128) && (!d.aux || d.aux_ld < int64_t(std::max<uint64_t>(1, dl.rows))))
        return refuse(StatusInvalidValue, "an aux epilogue needs EPILOGUE_AUX_POINTER and EPILOGUE_AUX_LD ≥ rows");
    if (!element_of(d.bias_type < 0 ? dl.type : d.bias_type, &p.bias_type) ||
        !element_of(d.aux_type < 0 ? dl.type : d.aux_type, &p.aux_type))
        return refuse(StatusNotSupported, "bias or aux data type");
    for (const Layout* l : {&a, &b, &c, &dl})
        if (l->ld < int64_t(std::max<uint64_t>(1, l->rows))) return refuse(StatusInvalidValue, "a leading dimension below its rows");
    return p;
}

struct MatmulWork {
    MatmulDesc desc;
    Layout a, b, c, d;
    MatmulPlan plan;
    float alpha, beta;
    const void* a_data;
    const void* b_data;
    const void* c_data;
    void* d_data;
};

int64_t layout_stride(const Layout& l) { return l.batch_count == 1 ? 0 : l.batch_offset; }

bool check_layout(const char* operand, const void* data, const Layout& l, Element type, std::string& message) {
    int64_t stride = layout_stride(l) * int64_t(element_bytes(type)), last = int64_t(l.batch_count - 1) * stride;
    uint64_t one = matrix_span_bytes(int64_t(l.rows), int64_t(l.cols), l.ld, type);
    if (one == 0) return true;
    return check_operand("cublasLtMatmul", operand, data, uint64_t(std::min<int64_t>(0, last)),
                         uint64_t(last < 0 ? -last : last) + one, message);
}

int run_matmul(const MatmulWork& w, std::string& message) {
    const MatmulPlan& p = w.plan;
    bool reads_ab = p.k > 0 && w.alpha != 0.0f;
    if (reads_ab && (!check_layout("A", w.a_data, w.a, p.a_type, message) || !check_layout("B", w.b_data, w.b, p.b_type, message)))
        return CudaErrorIllegalAddress;
    if ((w.beta != 0.0f && !check_layout("C", w.c_data, w.c, p.c_type, message)) || !check_layout("D", w.d_data, w.d, p.d_type, message))
        return CudaErrorIllegalAddress;
    bool bias = w.desc.epilogue & EpiBias, gelu = w.desc.epilogue & EpiGelu, aux = w.desc.epilogue & 128;
    int64_t bias_stride = p.batches > 1 ? w.desc.bias_stride : 0, aux_stride = p.batches > 1 ? w.desc.aux_stride : 0;
    if (bias && !check_operand("cublasLtMatmul", "bias", w.desc.bias, 0,
                               (uint64_t(p.batches - 1) * bias_stride + p.m) * element_bytes(p.bias_type), message))
        return CudaErrorIllegalAddress;
    if (aux && !check_operand("cublasLtMatmul", "aux", w.desc.aux, 0,
                              uint64_t(p.batches - 1) * aux_stride * element_bytes(p.aux_type) +
                                  matrix_span_bytes(p.m, p.n, w.desc.aux_ld, p.aux_type), message))
        return CudaErrorIllegalAddress;

    std::vector<float> product(size_t(p.m) * p.n);
    auto at = [](const void* base, int64_t stride, Element type, int batch) {
        return static_cast<const char*>(base) + batch * stride * int64_t(element_bytes(type));
    };
    for (int batch = 0; batch < p.batches; ++batch) {
        Operand a{at(w.a_data, layout_stride(w.a), p.a_type, batch), p.a_type, w.a.ld, w.desc.trans_a != OpN};
        Operand b{at(w.b_data, layout_stride(w.b), p.b_type, batch), p.b_type, w.b.ld, w.desc.trans_b != OpN};
        const void* c = at(w.c_data, layout_stride(w.c), p.c_type, batch);
        void* d = const_cast<char*>(at(w.d_data, layout_stride(w.d), p.d_type, batch));
        const void* bias_data = bias ? at(w.desc.bias, bias_stride, p.bias_type, batch) : nullptr;
        void* aux_data = aux ? const_cast<char*>(at(w.desc.aux, aux_stride, p.aux_type, batch)) : nullptr;
        if (reads_ab) multiply(p.m, p.n, p.k, w.alpha, a, b, p.tf32, product.data());
        else std::fill(product.begin(), product.end(), 0.0f);
        for (int j = 0; j < p.n; ++j)
            for (int i = 0; i < p.m; ++i) {
                float value = product[size_t(j) * p.m + i];
                if (w.beta != 0.0f) value += w.beta * load_element(c, p.c_type, size_t(j) * w.c.ld + i);
                if (bias) value += load_element(bias_data, p.bias_type, i);
                if (aux) store_element(aux_data, p.aux_type, size_t(j) * w.desc.aux_ld + i, value);
                if (gelu) value = gelu_tanh(value);
                store_element(d, p.d_type, size_t(j) * w.d.ld + i, value);
            }
    }
    return CudaSuccess;
}

}  // namespace
}  // namespace emu::blas

using namespace emu::blas;

EMU_EXPORT int cublasLtCreate(LtHandle** handle) { return create(handle, LtHandle{}, "cublasLtCreate"); }
EMU_EXPORT int cublasLtDestroy(LtHandle* handle) { return destroy(handle, "cublasLtDestroy"); }
EMU_EXPORT size_t cublasLtGetVersion() { return size_t(kVersion); }

EMU_EXPORT int cublasLtMatmulDescCreate(MatmulDesc** desc, int compute, int scale_type) {
    if (!is_known_compute_type(compute)) return fail("cublasLtMatmulDescCreate", StatusInvalidValue, "unknown compute type");
    MatmulDesc made{};
    made.compute = compute;
    made.scale_type = scale_type;
    return create(desc, made, "cublasLtMatmulDescCreate");
}

EMU_EXPORT int cublasLtMatmulDescDestroy(MatmulDesc* desc) { return destroy(desc, "cublasLtMatmulDescDestroy"); }

EMU_EXPORT int cublasLtMatmulDescSetAttribute(MatmulDesc* desc, int attribute, const void* buffer, size_t bytes) {
    const char* call = "cublasLtMatmulDescSetAttribute";
    if (!live(desc)) return fail(call, StatusInvalidValue, "unknown descriptor");
    bool ok = true;
    uint32_t epilogue;
    switch (attribute) {
        case DescComputeType: ok = read_attribute(buffer, bytes, &desc->compute); break;
        case DescScaleType: ok = read_attribute(buffer, bytes, &desc->scale_type); break;
        case DescPointerMode: ok = read_attribute(buffer, bytes, &desc->pointer_mode); break;
        case DescTransA: ok = read_attribute(buffer, bytes, &desc->trans_a); break;
        case DescTransB: ok = read_attribute(buffer, bytes, &desc->trans_b); break;
        case DescTransC: ok = read_attribute(buffer, bytes, &desc->trans_c); break;
        case DescEpilogue: ok = read_attribute(buffer, bytes, &epilogue); if (ok) desc->epilogue = epilogue; break;
        case DescBiasPointer: ok = read_attribute(buffer, bytes, &desc->bias); break;
        case DescBiasBatchStride: ok = read_attribute(buffer, bytes, &desc->bias_stride); break;
        case DescAuxPointer: ok = read_attribute(buffer, bytes, &desc->aux); break;
        case DescAuxLd: ok = read_attribute(buffer, bytes, &desc->aux_ld); break;
        case DescAuxBatchStride: ok = read_attribute(buffer, bytes, &desc->aux_stride); break;
        case DescAuxDataType: ok = read_attribute(buffer, bytes, &desc->aux_type); break;
        case DescBiasDataType: ok = read_attribute(buffer, bytes, &desc->bias_type); break;
        default: return fail(call, StatusInvalidValue, "attribute " + std::to_string(attribute) + " is not emulated");
    }
    if (!ok) return fail(call, StatusInvalidValue, "attribute " + std::to_string(attribute) + ": wrong size or null buffer");
    if ((attribute == DescTransA || attribute == DescTransB || attribute == DescTransC) &&
        (desc->trans_a < OpN || desc->trans_a > OpC || desc->trans_b < OpN || desc->trans_b > OpC))
        return fail(call, StatusInvalidValue, "transpose is not N, T or C");
    return StatusSuccess;
}

EMU_EXPORT int cublasLtMatrixLayoutCreate(Layout** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    Element element;
    if (!element_of(type, &element)) return fail("cublasLtMatrixLayoutCreate", StatusNotSupported, "data type " + std::to_string(type));
    return create(layout, Layout{type, rows, cols, ld}, "cublasLtMatrixLayoutCreate");
}

EMU_EXPORT int cublasLtMatrixLayoutDestroy(Layout* layout) { return destroy(layout, "cublasLtMatrixLayoutDestroy"); }

EMU_EXPORT int cublasLtMatrixLayoutSetAttribute(Layout* layout, int attribute, const void* buffer, size_t bytes) {
    const char* call = "cublasLtMatrixLayoutSetAttribute";
    if (!live(layout)) return fail(call, StatusInvalidValue, "unknown layout");
    bool ok = true;
    switch (attribute) {
        case LayoutType: ok = read_attribute(buffer, bytes, &layout->type); break;
        case LayoutOrder: ok = read_attribute(buffer, bytes, &layout->order); break;
        case LayoutRows: ok = read_attribute(buffer, bytes, &layout->rows); break;
        case LayoutCols: ok = read_attribute(buffer, bytes, &layout->cols); break;
        case LayoutLd: ok = read_attribute(buffer, bytes, &layout->ld); break;
        case LayoutBatchCount: ok = read_attribute(buffer, bytes, &layout->batch_count) && layout->batch_count >= 1; break;
        case LayoutBatchOffset: ok = read_attribute(buffer, bytes, &layout->batch_offset); break;
        default: return fail(call, StatusInvalidValue, "attribute " + std::to_string(attribute) + " is not emulated");
    }
    if (!ok) return fail(call, StatusInvalidValue, "attribute " + std::to_string(attribute) + ": wrong size, null buffer or bad value");
    return StatusSuccess;
}

EMU_EXPORT int cublasLtMatmulPreferenceCreate(Preference** preference) {
    return create(preference, Preference{}, "cublasLtMatmulPreferenceCreate");
}
EMU_EXPORT int cublasLtMatmulPreferenceDestroy(Preference* preference) {
    return destroy(preference, "cublasLtMatmulPreferenceDestroy");
}

EMU_EXPORT int cublasLtMatmulPreferenceSetAttribute(Preference* preference, int attribute, const void* buffer, size_t bytes) {
    const char* call = "cublasLtMatmulPreferenceSetAttribute";
    if (!live(preference)) return fail(call, StatusInvalidValue, "unknown preference");
    uint32_t ignored;
    // MAX_WORKSPACE_BYTES (1) matters; SEARCH_MODE (0) and the rest only steer a search the emulator does not do.
    if (attribute == 1) {
        if (!read_attribute(buffer, bytes, &preference->max_workspace)) return fail(call, StatusInvalidValue, "MAX_WORKSPACE_BYTES is a uint64");
    } else if (!buffer || bytes == 0 || (bytes == 4 && !read_attribute(buffer, bytes, &ignored))) {
        return fail(call, StatusInvalidValue, "null or empty buffer");
    }
    return StatusSuccess;
}

// cublasLtMatmulHeuristicResult_t: algo (8 words), workspaceSize, state, wavesCount, reserved[4].
struct HeuristicResult {
    uint64_t algo[8];
    size_t workspace_size;
    int state;
    float waves_count;
    int reserved[4];
};
static_assert(sizeof(HeuristicResult) == 96, "cublasLtMatmulHeuristicResult_t is 96 bytes");

namespace {
const uint64_t kAlgoTag = 0x454d55414c474f31ull;  // "EMUALGO1": the one algorithm, so Matmul can tell it apart
}

EMU_EXPORT int cublasLtMatmulAlgoGetHeuristic(LtHandle* handle, MatmulDesc* desc, Layout* a, Layout* b, Layout* c,
                                              Layout* d, Preference* preference, int requested,
                                              HeuristicResult* results, int* returned) {
    const char* call = "cublasLtMatmulAlgoGetHeuristic";
    if (!live(handle)) return fail(call, StatusNotInitialized, "unknown or destroyed handle");
    if (!live(desc) || !live(a) || !live(b) || !live(c) || !live(d) || !live(preference) || requested <= 0 || !results || !returned)
        return fail(call, StatusInvalidValue, "unknown descriptor, null output or requestedAlgoCount ≤ 0");
    *returned = 0;
    MatmulPlan p = plan(*desc, *a, *b, *c, *d);
    if (p.status != StatusSuccess) return fail(call, p.status, p.text);
    std::memset(results, 0, sizeof(HeuristicResult));
    results[0].algo[0] = kAlgoTag;
    results[0].state = StatusSuccess;
    results[0].waves_count = 1.0f;
    *returned = 1;
    return StatusSuccess;
}

EMU_EXPORT int cublasLtMatmul(LtHandle* handle, MatmulDesc* desc, const void* alpha, const void* A, Layout* a,
                              const void* B, Layout* b, const void* beta, const void* C, Layout* c, void* D,
                              Layout* d, const void* algo, void* workspace, size_t workspace_bytes, void* stream) {
    (void)workspace; (void)workspace_bytes;
    const char* call = "cublasLtMatmul";
    if (!live(handle)) return fail(call, StatusNotInitialized, "unknown or destroyed handle");
    if (!live(desc) || !live(a) || !live(b) || !live(c) || !live(d) || !alpha || !beta)
        return fail(call, StatusInvalidValue, "unknown descriptor or null alpha/beta");
    if (algo && static_cast<const uint64_t*>(algo)[0] != kAlgoTag)
        return fail(call, StatusInvalidValue, "algo did not come from cublasLtMatmulAlgoGetHeuristic");
    MatmulWork w{*desc, *a, *b, *c, *d, plan(*desc, *a, *b, *c, *d), *static_cast<const float*>(alpha),
                 *static_cast<const float*>(beta), A, B, C, D};
    if (w.plan.status != StatusSuccess) return fail(call, w.plan.status, w.plan.text);
    if (w.plan.m == 0 || w.plan.n == 0) return StatusSuccess;
    int queued = emu::enqueue(stream, call, [w](std::string& message) { return run_matmul(w, message); });
    if (queued != emu::CudaSuccess) return fail(call, StatusExecutionFailed, "the stream refused the work (CUresult " + std::to_string(queued) + ")");
    return StatusSuccess;
}
