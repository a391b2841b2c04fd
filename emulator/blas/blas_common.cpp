#include "blas_common.h"

#include <cstdio>

#include "../driver/host_runtime.h"

namespace emu::blas {

const char* status_name(int status) {
    switch (status) {
        case StatusSuccess: return "CUBLAS_STATUS_SUCCESS";
        case StatusNotInitialized: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case StatusAllocFailed: return "CUBLAS_STATUS_ALLOC_FAILED";
        case StatusInvalidValue: return "CUBLAS_STATUS_INVALID_VALUE";
        case StatusExecutionFailed: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case StatusInternalError: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case StatusNotSupported: return "CUBLAS_STATUS_NOT_SUPPORTED";
        default: return "cublasStatus_t (unknown)";
    }
}

int fail(const char* call, int status, const std::string& reason) {
    std::fprintf(stderr, "cuda emulator: %s: %s (%s)\n", call, status_name(status), reason.c_str());
    return status;
}

bool element_of(int data_type, Element* element) {
    switch (data_type) {
        case DataR32F: *element = Element::F32; return true;
        case DataR16F: *element = Element::F16; return true;
        case DataR16BF: *element = Element::BF16; return true;
        default: return false;
    }
}

bool is_known_compute_type(int compute) {
    switch (compute) {
        case Compute16F: case Compute16FPedantic: case Compute32F: case Compute32FPedantic: case Compute64F:
        case Compute64FPedantic: case Compute32I: case Compute32IPedantic: case Compute32FFast16F:
        case Compute32FFast16BF: case Compute32FFastTF32:
            return true;
        default: return false;
    }
}

bool supported_combination(int ab_type, int c_type, int compute, int math_mode, bool* tf32) {
    *tf32 = false;
    Element ab, c;
    if (!element_of(ab_type, &ab) || !element_of(c_type, &c)) return false;
    // cuBLAS's GemmEx table for fp32 compute: C is fp32 or the inputs' own 16-bit type.
    if (c != Element::F32 && c != ab) return false;
    switch (compute) {
        case Compute32F:
            // The math mode's low bits: 3 is CUBLAS_TF32_TENSOR_OP_MATH, which lets fp32 compute use tf32.
            *tf32 = ab == Element::F32 && (math_mode & 0xF) == 3;
            return true;
        case Compute32FPedantic: return true;
        case Compute32FFastTF32:
            *tf32 = true;
            return ab == Element::F32 && c == Element::F32;
        default: return false;
    }
}

bool check_operand(const char* call, const char* operand, const void* address, uint64_t first_byte_offset,
                   uint64_t bytes, std::string& message) {
    if (bytes == 0) return true;
    uint64_t start = reinterpret_cast<uint64_t>(address) + first_byte_offset;
    std::string miss;
    if (emu::check_device_range(start, bytes, &miss)) return true;
    char text[160];
    std::snprintf(text, sizeof text, "%s: operand %s [0x%llx, +%llu bytes) is not device memory: ", call, operand,
                  (unsigned long long)start, (unsigned long long)bytes);
    message = text + miss;
    return false;
}

}  // namespace emu::blas
