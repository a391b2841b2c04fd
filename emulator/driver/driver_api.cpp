// The CUDA driver API entry points the engine binds (interop/Cuda/CudaDriver.cs), with the driver's names,
// signatures and error codes; modules and launches are in module_api.cpp.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "context.h"
#include "export.h"
#include "host_runtime.h"
#include "memory.h"
#include "streams.h"

using namespace emu;

namespace {

constexpr int DriverVersion = 13000;  // CUDA 13.0, as the GPU machine's driver reports
const char* const DeviceName = "CUDA emulator on the CPU (not a GPU)";

// Calls that touch the device: cuInit done, a current context, no sticky fault.
int usable() {
    if (int c = require_context()) return c;
    return sticky_error();
}

std::mutex events_gate;
std::map<void*, std::shared_ptr<Event>> events;

std::shared_ptr<Event> find_event(void* handle) {
    std::lock_guard<std::mutex> lock(events_gate);
    auto it = events.find(handle);
    return it == events.end() ? nullptr : it->second;
}

struct GraphExec {
    std::vector<QueuedWork> nodes;
};
std::mutex graphs_gate;
std::map<void*, std::unique_ptr<Graph>> graphs;
std::map<void*, std::unique_ptr<GraphExec>> graph_execs;

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
    // A fault elsewhere on the stream skips this work (the context is then unusable), so no one would signal:
    // the wait also looks at the sticky error now and then.
    std::unique_lock<std::mutex> lock(done->first);
    while (!*finished && sticky_error() == 0) done->second.wait_for(lock, std::chrono::milliseconds(50));
    return sticky_error();
}

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
    if (int c = usable()) return c;
    if (free == nullptr || total == nullptr) return CudaErrorInvalidValue;
    *total = device_total_bytes();
    *free = *total - device_bytes_in_use();
    return CudaSuccess;
}

// ---- memory -----------------------------------------------------------------------------------------------

EMU_EXPORT int cuMemAlloc_v2(uint64_t* pointer, size_t bytes) {
    if (int c = usable()) return c;
    if (pointer == nullptr) return CudaErrorInvalidValue;
    return device_allocate(bytes, pointer);
}

EMU_EXPORT int cuMemFree_v2(uint64_t pointer) {
    if (int c = usable()) return c;
    synchronize_all_streams();  // cuMemFree waits for the work that may still use the memory
    if (pointer == 0) return CudaSuccess;
    return device_free(pointer) == 0 ? CudaSuccess : refuse(CudaErrorInvalidValue, "cuMemFree of an address that is not a live allocation");
}

// The stream-ordered pool: memory is ready at once (the emulator has no asynchronous allocator to wait for);
// the free is queued, so work queued before it may still use the memory.
EMU_EXPORT int cuMemAllocAsync(uint64_t* pointer, size_t bytes, void* stream) {
    if (int c = usable()) return c;
    if (pointer == nullptr) return CudaErrorInvalidValue;
    if (find_stream(stream) == nullptr) return CudaErrorInvalidHandle;
    return device_allocate(bytes, pointer);
}

EMU_EXPORT int cuMemFreeAsync(uint64_t pointer, void* stream) {
    if (int c = usable()) return c;
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
    if (int c = usable()) return c;
    if (pointer == nullptr || flags > 0xf) return CudaErrorInvalidValue;
    return host_allocate(bytes, pointer);
}

EMU_EXPORT int cuMemFreeHost(void* pointer) {
    if (int c = usable()) return c;
    return host_free(pointer) == 0 ? CudaSuccess : CudaErrorInvalidValue;
}

// ---- copies and fills: checked against the allocations, run in stream order ---------------------------------

EMU_EXPORT int cuMemcpyHtoD_v2(uint64_t destination, const void* source, size_t bytes) {
    if (int c = usable()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(destination, bytes, "cuMemcpyHtoD", "destination")) return c;
    synchronize_all_streams();
    memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return CudaSuccess;
}

EMU_EXPORT int cuMemcpyDtoH_v2(void* destination, uint64_t source, size_t bytes) {
    if (int c = usable()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(source, bytes, "cuMemcpyDtoH", "source")) return c;
    synchronize_all_streams();
    memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return sticky_error();
}

EMU_EXPORT int cuMemcpyDtoD_v2(uint64_t destination, uint64_t source, size_t bytes) {
    if (int c = usable()) return c;
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
    if (int c = usable()) return c;
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
    if (int c = usable()) return c;
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
    if (int c = usable()) return c;
    if (bytes == 0) return CudaSuccess;
    if (int c = check_device(destination, bytes, "cuMemcpyDtoDAsync", "destination")) return c;
    if (int c = check_device(source, bytes, "cuMemcpyDtoDAsync", "source")) return c;
    return enqueue(stream, "cuMemcpyDtoDAsync", [=](std::string&) {
        memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuMemsetD8Async(uint64_t destination, unsigned char value, size_t count, void* stream) {
    if (int c = usable()) return c;
    if (count == 0) return CudaSuccess;
    if (int c = check_device(destination, count, "cuMemsetD8Async", "destination")) return c;
    return enqueue(stream, "cuMemsetD8Async", [=](std::string&) {
        memset(reinterpret_cast<void*>(destination), value, count);
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuMemsetD32Async(uint64_t destination, unsigned value, size_t count, void* stream) {
    if (int c = usable()) return c;
    if (count == 0) return CudaSuccess;
    if (destination % 4 != 0) return CudaErrorInvalidValue;
    if (int c = check_device(destination, count * 4, "cuMemsetD32Async", "destination")) return c;
    return enqueue(stream, "cuMemsetD32Async", [=](std::string&) {
        auto* p = reinterpret_cast<unsigned*>(destination);
        for (size_t i = 0; i < count; i++) p[i] = value;
        return int(CudaSuccess);
    });
}

// ---- streams and events -----------------------------------------------------------------------------------

EMU_EXPORT int cuStreamCreate(void** stream, unsigned flags) {
    if (int c = usable()) return c;
    if (stream == nullptr || flags > 1) return CudaErrorInvalidValue;
    auto* s = new Stream();
    register_stream(s);
    *stream = s;
    return CudaSuccess;
}

EMU_EXPORT int cuStreamDestroy_v2(void* stream) {
    if (int c = require_context()) return c;
    auto* s = static_cast<Stream*>(stream);
    if (stream == nullptr || !unregister_stream(s)) return CudaErrorInvalidHandle;
    delete s;  // runs what is queued first, as the driver does
    return CudaSuccess;
}

EMU_EXPORT int cuStreamSynchronize(void* stream) {
    if (int c = require_context()) return c;
    Stream* s = find_stream(stream);
    if (s == nullptr) return CudaErrorInvalidHandle;
    if (s->capture) {
        s->capture_invalidated = true;
        return refuse(CudaErrorStreamCaptureUnsupported, "cuStreamSynchronize on a stream being captured");
    }
    s->wait_idle();
    return sticky_error();
}

EMU_EXPORT int cuStreamWaitEvent(void* stream, void* event, unsigned flags) {
    if (int c = usable()) return c;
    if (flags != 0) return CudaErrorInvalidValue;
    auto e = find_event(event);
    if (!e) return CudaErrorInvalidHandle;
    unsigned long long target;
    {
        std::lock_guard<std::mutex> lock(e->mutex);
        target = e->recorded;
    }
    if (target == 0) return find_stream(stream) ? CudaSuccess : CudaErrorInvalidHandle;  // never recorded: nothing to wait for
    return enqueue(stream, "cuStreamWaitEvent", [e, target](std::string&) {
        std::unique_lock<std::mutex> lock(e->mutex);
        while (e->completed < target && sticky_error() == 0) e->reached.wait_for(lock, std::chrono::milliseconds(50));
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuEventCreate(void** event, unsigned flags) {
    if (int c = usable()) return c;
    if (event == nullptr || flags > 0xf) return CudaErrorInvalidValue;
    auto e = std::make_shared<Event>();
    e->timing = (flags & 2) == 0;  // CU_EVENT_DISABLE_TIMING
    std::lock_guard<std::mutex> lock(events_gate);
    events[e.get()] = e;
    *event = e.get();
    return CudaSuccess;
}

EMU_EXPORT int cuEventDestroy_v2(void* event) {
    std::lock_guard<std::mutex> lock(events_gate);
    return events.erase(event) == 1 ? CudaSuccess : CudaErrorInvalidHandle;  // queued work keeps its own reference
}

EMU_EXPORT int cuEventRecord(void* event, void* stream) {
    if (int c = usable()) return c;
    auto e = find_event(event);
    if (!e) return CudaErrorInvalidHandle;
    if (find_stream(stream) == nullptr) return CudaErrorInvalidHandle;
    unsigned long long generation;
    {
        std::lock_guard<std::mutex> lock(e->mutex);
        generation = ++e->recorded;
    }
    return enqueue(stream, "cuEventRecord", [e, generation](std::string&) {
        std::lock_guard<std::mutex> lock(e->mutex);
        if (generation > e->completed) e->completed = generation;
        e->milliseconds = now_milliseconds();
        e->reached.notify_all();
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuEventSynchronize(void* event) {
    if (int c = require_context()) return c;
    auto e = find_event(event);
    if (!e) return CudaErrorInvalidHandle;
    std::unique_lock<std::mutex> lock(e->mutex);
    const unsigned long long target = e->recorded;
    while (e->completed < target && sticky_error() == 0) e->reached.wait_for(lock, std::chrono::milliseconds(50));
    return sticky_error();
}

EMU_EXPORT int cuEventQuery(void* event) {
    if (int c = require_context()) return c;
    auto e = find_event(event);
    if (!e) return CudaErrorInvalidHandle;
    if (int c = sticky_error()) return c;
    std::lock_guard<std::mutex> lock(e->mutex);
    return e->completed >= e->recorded ? CudaSuccess : CudaErrorNotReady;
}

EMU_EXPORT int cuEventElapsedTime(float* milliseconds, void* start, void* end) {
    if (int c = usable()) return c;
    if (milliseconds == nullptr) return CudaErrorInvalidValue;
    auto a = find_event(start), b = find_event(end);
    if (!a || !b) return CudaErrorInvalidHandle;
    if (!a->timing || !b->timing) return CudaErrorInvalidHandle;  // created with CU_EVENT_DISABLE_TIMING
    std::scoped_lock lock(a->mutex, b->mutex);
    if (a->recorded == 0 || b->recorded == 0) return CudaErrorInvalidHandle;
    if (a->completed < a->recorded || b->completed < b->recorded) return CudaErrorNotReady;
    *milliseconds = float(b->milliseconds - a->milliseconds);
    return CudaSuccess;
}

// ---- graphs -------------------------------------------------------------------------------------------------

EMU_EXPORT int cuStreamBeginCapture_v2(void* stream, int mode) {
    if (int c = usable()) return c;
    Stream* s = find_stream(stream);
    if (s == nullptr) return CudaErrorInvalidHandle;
    if (stream == nullptr) return refuse(CudaErrorStreamCaptureUnsupported, "the legacy stream cannot be captured");
    if (mode < 0 || mode > 2) return CudaErrorInvalidValue;
    if (s->capture) return CudaErrorInvalidValue;
    s->capture = std::make_unique<Graph>();
    s->capture_invalidated = false;
    return CudaSuccess;
}

EMU_EXPORT int cuStreamEndCapture(void* stream, void** graph) {
    if (int c = require_context()) return c;
    if (graph == nullptr) return CudaErrorInvalidValue;
    Stream* s = find_stream(stream);
    if (s == nullptr) return CudaErrorInvalidHandle;
    *graph = nullptr;
    if (!s->capture) return refuse(CudaErrorInvalidValue, "cuStreamEndCapture on a stream that is not being captured");
    std::unique_ptr<Graph> g = std::move(s->capture);
    if (s->capture_invalidated) return CudaErrorStreamCaptureInvalidated;
    std::lock_guard<std::mutex> lock(graphs_gate);
    *graph = g.get();
    graphs[g.get()] = std::move(g);
    return CudaSuccess;
}

EMU_EXPORT int cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    if (int c = usable()) return c;
    if (exec == nullptr) return CudaErrorInvalidValue;
    std::lock_guard<std::mutex> lock(graphs_gate);
    auto it = graphs.find(graph);
    if (it == graphs.end()) return CudaErrorInvalidValue;
    auto e = std::make_unique<GraphExec>();
    e->nodes = it->second->nodes;
    *exec = e.get();
    graph_execs[e.get()] = std::move(e);
    return CudaSuccess;
}

EMU_EXPORT int cuGraphLaunch(void* exec, void* stream) {
    if (int c = usable()) return c;
    std::vector<QueuedWork> nodes;
    {
        std::lock_guard<std::mutex> lock(graphs_gate);
        auto it = graph_execs.find(exec);
        if (it == graph_execs.end()) return CudaErrorInvalidValue;
        nodes = it->second->nodes;
    }
    for (QueuedWork& node : nodes)
        if (int c = enqueue(stream, node.what.c_str(), node.work)) return c;
    return CudaSuccess;
}

EMU_EXPORT int cuGraphExecDestroy(void* exec) {
    std::lock_guard<std::mutex> lock(graphs_gate);
    return graph_execs.erase(exec) == 1 ? CudaSuccess : CudaErrorInvalidValue;
}

EMU_EXPORT int cuGraphDestroy(void* graph) {
    std::lock_guard<std::mutex> lock(graphs_gate);
    return graphs.erase(graph) == 1 ? CudaSuccess : CudaErrorInvalidValue;
}
