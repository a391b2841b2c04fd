// What the emulated libraries beside the driver (blas/ for cuBLAS, nccl/ for NCCL) use of it: streams to queue work
// on in order, and checks that a device pointer range lies inside one live allocation. driver/*.cpp implements it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace emu {

// CUresult values the emulator returns (cuda.h).
enum : int {
    CudaSuccess = 0,
    CudaErrorInvalidValue = 1,
    CudaErrorOutOfMemory = 2,
    CudaErrorNotInitialized = 3,
    CudaErrorNoDevice = 100,
    CudaErrorInvalidDevice = 101,
    CudaErrorInvalidImage = 200,
    CudaErrorInvalidContext = 201,
    CudaErrorNoBinaryForGpu = 209,
    CudaErrorInvalidHandle = 400,
    CudaErrorNotFound = 500,
    CudaErrorNotReady = 600,
    CudaErrorIllegalAddress = 700,
    CudaErrorLaunchOutOfResources = 701,
    CudaErrorAssert = 710,
    CudaErrorIllegalInstruction = 715,
    CudaErrorLaunchFailed = 719,
    CudaErrorStreamCaptureUnsupported = 900,
    CudaErrorStreamCaptureInvalidated = 901,
    CudaErrorUnknown = 999,
};

// Work queued on a stream: runs on the stream's own thread, in the order queued, after everything queued before
// it; returns a CUresult. A failure is sticky, as on a GPU: the context then answers every later call with it, and
// `message` (when set) is what cuGetErrorString reports for it.
using StreamWork = std::function<int(std::string& message)>;

// Queues `work` on `stream` (0: the legacy default stream, which first waits for every other stream), or, while
// the stream is being captured into a graph, records it in the graph instead. `what` names it in errors
// ("cublasGemmEx", "ncclAllReduce"). Returns CUDA_SUCCESS, CUDA_ERROR_INVALID_HANDLE for an unknown stream, or
// the context's sticky error.
int enqueue(void* stream, const char* what, StreamWork work);

// Whether [address, address + bytes) lies inside one live device allocation (or page-locked host allocation); when
// not, `error` says which allocation is nearest and by how much the range misses it.
bool check_device_range(uint64_t address, size_t bytes, std::string* error);

// The calling process's emulated device ordinal of the current context (-1 without one): NCCL refuses two ranks
// on one device, as the real library does.
int current_device();

}  // namespace emu
