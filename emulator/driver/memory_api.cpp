// The CUDA driver API's device memory, page-locked host memory and copies: every range checked against the
// allocations before anything is queued, copies run in stream order, pageable and page-locked memory as the driver
// treats them.
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "context.h"
#include "export.h"
#include "host_runtime.h"
#include "memory.h"
#include "streams.h"

using namespace emu;

namespace {

bool is_pinned(const void* p, size_t bytes) { return check_device_range(reinterpret_cast<uint64_t>(p), bytes, nullptr); }

int check_device(uint64_t address, size_t bytes, const char* call, const char* operand) {
    std::string error;
    if (check_device_range(address, bytes, &error)) return CudaSuccess;
    return refuse(CudaErrorInvalidValue, std::string(call) + ": " + operand + ": " + error);
}

int queue_and_wait(void* stream, const char* what, StreamWork work) {
    auto done = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
    auto finished = std::make_shared<bool>(false);
    int code = enqueue(stream, what, [work, done, finished](std::string& message) {
        const int c = work(message);
        std::lock_guard<std::mutex> lock(done->first);
        *finished = true;
        done->second.notify_all();
        return c;
    });
    if (code != 0) return code;
    Stream* s = find_stream(stream);
    if (s && s->capture) return CudaSuccess;
    std::unique_lock<std::mutex> lock(done->first);
    wait_unless_faulted(done->second, lock, [&] { return *finished; });
    return sticky_error();
}

}  // namespace

// ---- memory -----------------------------------------------------------------------------------------------

EMU_EXPORT int cuMemAlloc_v2(uint64_t* pointer, size_t bytes) {
    if (int c = usable_context()) return c;
    if (pointer == nullptr) return CudaErrorInvalidValue;
    return device_allocate(bytes, pointer);
}

EMU_EXPORT int cuMemFree_v2(uint64_t pointer) {
    if (int c = usable_context()) return c;
    synchronize_all_streams();  // cuMemFree waits for the work that may still use the memory
    if (pointer == 0) return CudaSuccess;
    return device_free(pointer) == 0 ? CudaSuccess : refuse(CudaErrorInvalidValue, "cuMemFree of an address that is not a live allocation");
}

// The stream-ordered pool: memory is ready at once (the emulator has no asynchronous allocator to wait for);
// the free is queued, so work queued before it may still use the memory.
EMU_EXPORT int cuMemAllocAsync(uint64_t* pointer, size_t bytes, void* stream) {
    if (int c = usable_context()) return c;
    if (pointer == nullptr) return CudaErrorInvalidValue;
    if (find_stream(stream) == nullptr) return CudaErrorInvalidHandle;
    return device_allocate(bytes, pointer);
}

EMU_EXPORT int cuMemFreeAsync(uint64_t pointer, void* stream) {
    if (int c = usable_context()) return c;
    if (!check_device_range(pointer, 1, nullptr)) return refuse(CudaErrorInvalidValue, "cuMemFreeAsync of an address that is not a live allocation");
    return enqueue(stream, "cuMemFreeAsync", [pointer](std::string& message) {
        if (device_free(pointer) == 0) return int(CudaSuccess);
        message = "freed twice";
        return int(CudaErrorInvalidValue);
    });
}

EMU_EXPORT int cuDeviceGetDefaultMemPool(void** pool, int device) {
    if (!driver_initialized()) return CudaErrorNotInitialized;
    if (pool == nullptr) return CudaErrorInvalidValue;
    PrimaryContext* c = primary_context(device);
    if (c == nullptr) return CudaErrorInvalidDevice;
    *pool = c;  // one pool per device; its handle is never dereferenced by callers
    return CudaSuccess;
}

EMU_EXPORT int cuMemPoolSetAttribute(void* pool, int attribute, void* value) {
    if (pool == nullptr || value == nullptr) return CudaErrorInvalidValue;
    if (attribute < 1 || attribute > 8) return CudaErrorInvalidValue;  // CUmemPool_attribute
    return CudaSuccess;
}

EMU_EXPORT int cuMemPoolTrimTo(void* pool, size_t) { return pool == nullptr ? CudaErrorInvalidValue : CudaSuccess; }

EMU_EXPORT int cuMemHostAlloc(void** pointer, size_t bytes, unsigned flags) {
    if (int c = usable_context()) return c;
    if (pointer == nullptr || flags > 0xf) return CudaErrorInvalidValue;
    return host_allocate(bytes, pointer);
}

EMU_EXPORT int cuMemFreeHost(void* pointer) {
    if (int c = usable_context()) return c;
    return host_free(pointer) == 0 ? CudaSuccess : CudaErrorInvalidValue;
}

// ---- copies and fills: checked against the allocations, run in stream order ---------------------------------

EMU_EXPORT int cuMemcpyHtoD_v2(uint64_t destination, const void* source, size_t bytes) {
    if (int c = usable_context()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(destination, bytes, "cuMemcpyHtoD", "destination")) return c;
    synchronize_all_streams();
    memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return CudaSuccess;
}

EMU_EXPORT int cuMemcpyDtoH_v2(void* destination, uint64_t source, size_t bytes) {
    if (int c = usable_context()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(source, bytes, "cuMemcpyDtoH", "source")) return c;
    synchronize_all_streams();
    memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return sticky_error();
}

EMU_EXPORT int cuMemcpyDtoD_v2(uint64_t destination, uint64_t source, size_t bytes) {
    if (int c = usable_context()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(destination, bytes, "cuMemcpyDtoD", "destination")) return c;
    if (int c = check_device(source, bytes, "cuMemcpyDtoD", "source")) return c;
    synchronize_all_streams();
    memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
    return CudaSuccess;
}

// From pageable memory the driver copies the source before returning, so the caller may reuse it at once; from
// page-locked memory the copy happens when the stream reaches it.
EMU_EXPORT int cuMemcpyHtoDAsync_v2(uint64_t destination, const void* source, size_t bytes, void* stream) {
    if (int c = usable_context()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(destination, bytes, "cuMemcpyHtoDAsync", "destination")) return c;
    if (is_pinned(source, bytes))
        return enqueue(stream, "cuMemcpyHtoDAsync", [=](std::string&) {
            memcpy(reinterpret_cast<void*>(destination), source, bytes);
            return int(CudaSuccess);
        });
    auto staged = std::make_shared<std::vector<unsigned char>>(static_cast<const unsigned char*>(source), static_cast<const unsigned char*>(source) + bytes);
    return enqueue(stream, "cuMemcpyHtoDAsync", [=](std::string&) {
        memcpy(reinterpret_cast<void*>(destination), staged->data(), bytes);
        return int(CudaSuccess);
    });
}

// Into pageable memory the call returns once the data is there; into page-locked memory when queued.
EMU_EXPORT int cuMemcpyDtoHAsync_v2(void* destination, uint64_t source, size_t bytes, void* stream) {
    if (int c = usable_context()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(source, bytes, "cuMemcpyDtoHAsync", "source")) return c;
    StreamWork copy = [=](std::string&) {
        memcpy(destination, reinterpret_cast<const void*>(source), bytes);
        return int(CudaSuccess);
    };
    if (is_pinned(destination, bytes)) return enqueue(stream, "cuMemcpyDtoHAsync", copy);
    return queue_and_wait(stream, "cuMemcpyDtoHAsync", copy);
}

EMU_EXPORT int cuMemcpyDtoDAsync_v2(uint64_t destination, uint64_t source, size_t bytes, void* stream) {
    if (int c = usable_context()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(destination, bytes, "cuMemcpyDtoDAsync", "destination")) return c;
    if (int c = check_device(source, bytes, "cuMemcpyDtoDAsync", "source")) return c;
    return enqueue(stream, "cuMemcpyDtoDAsync", [=](std::string&) {
        memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuMemsetD8Async(uint64_t destination, unsigned char value, size_t count, void* stream) {
    if (int c = usable_context()) return c;
    if (count == 0) return CudaSuccess;
    if (int c = check_device(destination, count, "cuMemsetD8Async", "destination")) return c;
    return enqueue(stream, "cuMemsetD8Async", [=](std::string&) {
        memset(reinterpret_cast<void*>(destination), value, count);
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuMemsetD32Async(uint64_t destination, unsigned value, size_t count, void* stream) {
    if (int c = usable_context()) return c;
    if (count == 0) return CudaSuccess;
    if (destination % 4 != 0) return CudaErrorInvalidValue;
    if (int c = check_device(destination, count * 4, "cuMemsetD32Async", "destination")) return c;
    return enqueue(stream, "cuMemsetD32Async", [=](std::string&) {
        auto* p = reinterpret_cast<unsigned*>(destination);
        for (size_t i = 0; i < count; i++) p[i] = value;
        return int(CudaSuccess);
    });
}

