// The CUDA driver API's errors, devices and contexts, as the engine binds them (interop/Cuda/CudaDriver.cs): the
// driver's names, signatures and error codes, and an H100's figures.
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../device/scheduler.h"
#include "context.h"
#include "export.h"
#include "host_runtime.h"
#include "memory.h"
#include "streams.h"

using namespace emu;

namespace {
constexpr int DriverVersion = 13000;  // CUDA 13.0, as the GPU machine's driver reports
const char* const DeviceName = "CUDA emulator on the CPU (not a GPU)";
}  // namespace

// ---- errors, driver, devices ------------------------------------------------------------------------------

EMU_EXPORT int cuGetErrorName(int error, const char** name) {
    if (name == nullptr) return CudaErrorInvalidValue;
    static std::map<int, std::string> names = {
        {0, "CUDA_SUCCESS"}, {1, "CUDA_ERROR_INVALID_VALUE"}, {2, "CUDA_ERROR_OUT_OF_MEMORY"},
        {3, "CUDA_ERROR_NOT_INITIALIZED"}, {100, "CUDA_ERROR_NO_DEVICE"}, {101, "CUDA_ERROR_INVALID_DEVICE"},
        {200, "CUDA_ERROR_INVALID_IMAGE"}, {201, "CUDA_ERROR_INVALID_CONTEXT"}, {209, "CUDA_ERROR_NO_BINARY_FOR_GPU"},
        {400, "CUDA_ERROR_INVALID_HANDLE"}, {500, "CUDA_ERROR_NOT_FOUND"}, {600, "CUDA_ERROR_NOT_READY"},
        {700, "CUDA_ERROR_ILLEGAL_ADDRESS"}, {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"}, {710, "CUDA_ERROR_ASSERT"},
        {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION"}, {719, "CUDA_ERROR_LAUNCH_FAILED"},
        {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"}, {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"}, {999, "CUDA_ERROR_UNKNOWN"}};
    auto it = names.find(error);
    if (it == names.end()) {
        *name = nullptr;
        return CudaErrorInvalidValue;
    }
    *name = it->second.c_str();
    return CudaSuccess;
}

EMU_EXPORT int cuGetErrorString(int error, const char** text) {
    if (text == nullptr) return CudaErrorInvalidValue;
    if (const char* detail = refusal_detail(error)) {
        thread_local std::string kept;
        kept = std::string(error_description(error)) + " (CUDA emulator: " + detail + ")";
        *text = kept.c_str();
        return CudaSuccess;
    }
    *text = error_description(error);
    return CudaSuccess;
}

EMU_EXPORT int cuInit(unsigned flags) {
    if (flags != 0) return CudaErrorInvalidValue;
    set_address_describer(&describe_device_address);  // a kernel's fault names the allocation it missed
    mark_initialized();
    return device_count() > 0 ? CudaSuccess : CudaErrorNoDevice;
}

EMU_EXPORT int cuDriverGetVersion(int* version) {
    if (version == nullptr) return CudaErrorInvalidValue;
    *version = DriverVersion;
    return CudaSuccess;
}

EMU_EXPORT int cuDeviceGetCount(int* count) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (count == nullptr) return CudaErrorInvalidValue;
    *count = device_count();
    return CudaSuccess;
}

EMU_EXPORT int cuDeviceGet(int* device, int ordinal) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (device == nullptr) return CudaErrorInvalidValue;
    if (ordinal < 0 || ordinal >= device_count()) return CudaErrorInvalidDevice;
    *device = ordinal;
    return CudaSuccess;
}

EMU_EXPORT int cuDeviceGetName(char* name, int length, int device) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (name == nullptr || length <= 0) return CudaErrorInvalidValue;
    if (primary_context(device) == nullptr) return CudaErrorInvalidDevice;
    snprintf(name, size_t(length), "%s", DeviceName);
    return CudaSuccess;
}

EMU_EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int device) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (bytes == nullptr) return CudaErrorInvalidValue;
    if (primary_context(device) == nullptr) return CudaErrorInvalidDevice;
    *bytes = device_total_bytes();
    return CudaSuccess;
}

EMU_EXPORT int cuDeviceGetAttribute(int* value, int attribute, int device) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (value == nullptr) return CudaErrorInvalidValue;
    if (primary_context(device) == nullptr) return CudaErrorInvalidDevice;
    // An H100 SXM's figures (cuda.h CUdevice_attribute numbering).
    static const std::map<int, int> h100 = {
        {1, 1024},        // MAX_THREADS_PER_BLOCK
        {2, 1024},        // MAX_BLOCK_DIM_X
        {3, 1024},        // MAX_BLOCK_DIM_Y
        {4, 64},          // MAX_BLOCK_DIM_Z
        {5, 2147483647},  // MAX_GRID_DIM_X
        {6, 65535},       // MAX_GRID_DIM_Y
        {7, 65535},       // MAX_GRID_DIM_Z
        {8, 49152},       // MAX_SHARED_MEMORY_PER_BLOCK
        {9, 65536},       // TOTAL_CONSTANT_MEMORY
        {10, 32},         // WARP_SIZE
        {12, 65536},      // MAX_REGISTERS_PER_BLOCK
        {13, 1980000},    // CLOCK_RATE (kHz)
        {16, 132},        // MULTIPROCESSOR_COUNT
        {39, 2048},       // MAX_THREADS_PER_MULTIPROCESSOR
        {75, 9},          // COMPUTE_CAPABILITY_MAJOR
        {76, 0},          // COMPUTE_CAPABILITY_MINOR
        {81, 233472},     // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
        {97, 232448},     // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN (227 KiB)
    };
    auto it = h100.find(attribute);
    if (it == h100.end()) return refuse(CudaErrorInvalidValue, "device attribute " + std::to_string(attribute) + " is not one the emulator models");
    *value = it->second;
    return CudaSuccess;
}

// ---- contexts ---------------------------------------------------------------------------------------------

EMU_EXPORT int cuDevicePrimaryCtxRetain(void** context, int device) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (context == nullptr) return CudaErrorInvalidValue;
    PrimaryContext* c = primary_context(device);
    if (c == nullptr) return CudaErrorInvalidDevice;
    retain(c);
    *context = c;
    return CudaSuccess;
}

EMU_EXPORT int cuDevicePrimaryCtxRelease_v2(int device) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    PrimaryContext* c = primary_context(device);
    if (c == nullptr) return CudaErrorInvalidDevice;
    return release(c);
}

EMU_EXPORT int cuCtxSetCurrent(void* context) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (context == nullptr) {
        set_current_context(nullptr);
        return CudaSuccess;
    }
    auto* c = static_cast<PrimaryContext*>(context);
    if (c != primary_context(c->device)) return CudaErrorInvalidContext;
    set_current_context(c);
    return CudaSuccess;
}

EMU_EXPORT int cuCtxSynchronize() {
    if (int c = require_context()) return c;
    synchronize_all_streams();
    return sticky_error();
}

EMU_EXPORT int cuMemGetInfo_v2(size_t* free, size_t* total) {
    if (int c = usable_context()) return c;
    if (free == nullptr || total == nullptr) return CudaErrorInvalidValue;
    *total = device_total_bytes();
    *free = *total - device_bytes_in_use();
    return CudaSuccess;
}

