// What cuBLAS and cuBLASLt share here: their status codes, the data and compute types they accept, and the device
// range checks that make a bad operand fail the queued work like an illegal address on a GPU.
#pragma once

#include <cstdint>
#include <string>

#include "gemm.h"

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace emu::blas {

// cublasStatus_t (cublas_api.h).
enum Status : int {
    StatusSuccess = 0,
    StatusNotInitialized = 1,
    StatusAllocFailed = 3,
    StatusInvalidValue = 7,
    StatusExecutionFailed = 13,
    StatusInternalError = 14,
    StatusNotSupported = 15,
};

// cudaDataType (library_types.h) and cublasComputeType_t values that the emulator knows.
enum : int { DataR32F = 0, DataR16F = 2, DataR8I = 3, DataR32I = 10, DataR16BF = 14 };
enum : int {
    Compute16F = 64, Compute16FPedantic = 65, Compute32F = 68, Compute32FPedantic = 69, Compute64F = 70,
    Compute64FPedantic = 71, Compute32I = 72, Compute32IPedantic = 73, Compute32FFast16F = 74,
    Compute32FFast16BF = 75, Compute32FFastTF32 = 77,
};
enum : int { OpN = 0, OpT = 1, OpC = 2 };

// 1.2.3 as 10203: what cuBLAS 12.8.4 reports, so version checks in the engine see a current library.
constexpr int kVersion = 120804;

const char* status_name(int status);

// A status other than success, with its reason on stderr (real cuBLAS says little; the emulator says why).
int fail(const char* call, int status, const std::string& reason);

// Maps a cudaDataType to the element the GEMM reads; false for a type the emulator does not run.
bool element_of(int data_type, Element* element);
bool is_known_compute_type(int compute);

// Whether the A/B/C types (A and B already equal) run under this compute type; tf32 is set when fp32 operands are
// rounded to tf32 (FAST_TF32, or COMPUTE_32F under CUBLAS_TF32_TENSOR_OP_MATH).
bool supported_combination(int ab_type, int c_type, int compute, int math_mode, bool* tf32);

// Appends a description to `message` and returns false when [address, address + bytes) is not device memory.
bool check_operand(const char* call, const char* operand, const void* address, uint64_t first_byte_offset,
                   uint64_t bytes, std::string& message);

}  // namespace emu::blas
