// The CUDA driver API's streams and events: a stream is a thread (streams.h), an event counts the records its
// stream has reached, and a stream wait is queued work that waits for that count.
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

std::mutex events_gate;
std::map<void*, std::shared_ptr<Event>> events;

std::shared_ptr<Event> find_event(void* handle) {
    std::lock_guard<std::mutex> lock(events_gate);
    auto it = events.find(handle);
    return it == events.end() ? nullptr : it->second;
}

}  // namespace

// ---- streams and events -----------------------------------------------------------------------------------

EMU_EXPORT int cuStreamCreate(void** stream, unsigned flags) {
    if (int c = usable_context()) return c;
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
    if (int c = usable_context()) return c;
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
        wait_unless_faulted(e->reached, lock, [&] { return e->completed >= target; });
        return int(CudaSuccess);
    });
}

EMU_EXPORT int cuEventCreate(void** event, unsigned flags) {
    if (int c = usable_context()) return c;
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
    if (int c = usable_context()) return c;
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
    wait_unless_faulted(e->reached, lock, [&] { return e->completed >= target; });
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
    if (int c = usable_context()) return c;
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

