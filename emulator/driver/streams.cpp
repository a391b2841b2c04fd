#include "streams.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

namespace emu {
namespace {

std::mutex sticky_gate;
std::atomic<int> sticky{0};
std::string sticky_message;
std::map<int, std::string> descriptions;  // kept alive: cuGetErrorString hands out pointers into it

std::mutex streams_gate;
std::set<Stream*> streams;

}  // namespace

Stream::Stream() : thread([this] { run(); }) {}

Stream::~Stream() {
    {
        std::lock_guard<std::mutex> lock(mutex);
        stopping = true;
    }
    wake.notify_all();
    thread.join();
}

void Stream::push(QueuedWork work) {
    {
        std::lock_guard<std::mutex> lock(mutex);
        queue.push_back(std::move(work));
    }
    wake.notify_one();
}

void Stream::wait_idle() {
    std::unique_lock<std::mutex> lock(mutex);
    idle.wait(lock, [this] { return queue.empty() && !busy; });
}

void Stream::run() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and drained
        QueuedWork item = std::move(queue.front());
        queue.pop_front();
        busy = true;
        lock.unlock();
        // After a fault the context is unusable, as on a GPU: later work does not run (waits give up too).
        if (sticky_error() == 0) {
            std::string message;
            const int code = item.work(message);
            if (code != 0) set_sticky_error(code, item.what + (message.empty() ? "" : ": " + message));
        }
        lock.lock();
        busy = false;
        if (queue.empty()) idle.notify_all();
    }
}

int sticky_error() { return sticky.load(); }

void set_sticky_error(int code, const std::string& message) {
    std::lock_guard<std::mutex> lock(sticky_gate);
    if (sticky.load() != 0) return;
    sticky_message = message;
    sticky.store(code);
    fprintf(stderr, "CUDA emulator: %s\n", message.c_str());
}

void clear_sticky_error() {
    std::lock_guard<std::mutex> lock(sticky_gate);
    sticky.store(0);
    sticky_message.clear();
}

const char* error_description(int code) {
    std::lock_guard<std::mutex> lock(sticky_gate);
    std::string text;
    switch (code) {
        case CudaSuccess: text = "no error"; break;
        case CudaErrorInvalidValue: text = "invalid argument"; break;
        case CudaErrorOutOfMemory: text = "out of memory"; break;
        case CudaErrorNotInitialized: text = "initialization error"; break;
        case CudaErrorNoDevice: text = "no CUDA-capable device is detected"; break;
        case CudaErrorInvalidDevice: text = "invalid device ordinal"; break;
        case CudaErrorInvalidImage: text = "device kernel image is invalid"; break;
        case CudaErrorInvalidContext: text = "invalid device context"; break;
        case CudaErrorNoBinaryForGpu: text = "no kernel image is available for execution on the device"; break;
        case CudaErrorInvalidHandle: text = "invalid resource handle"; break;
        case CudaErrorNotFound: text = "named symbol not found"; break;
        case CudaErrorNotReady: text = "device not ready"; break;
        case CudaErrorIllegalAddress: text = "an illegal memory access was encountered"; break;
        case CudaErrorLaunchOutOfResources: text = "too many resources requested for launch"; break;
        case CudaErrorAssert: text = "device-side assert triggered"; break;
        case CudaErrorIllegalInstruction: text = "an illegal instruction was encountered"; break;
        case CudaErrorLaunchFailed: text = "unspecified launch failure"; break;
        case CudaErrorStreamCaptureUnsupported: text = "operation not permitted when stream is capturing"; break;
        case CudaErrorStreamCaptureInvalidated: text = "operation failed due to a previous error during capture"; break;
        default: text = "unknown error"; break;
    }
    if (code != 0 && code == sticky.load() && !sticky_message.empty()) text += " (CUDA emulator: " + sticky_message + ")";
    std::string& kept = descriptions[code];
    if (kept != text) kept = text;  // a pointer handed out earlier for this code stays valid until its text changes
    return kept.c_str();
}

double now_milliseconds() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

Stream* legacy_stream() {
    static Stream* legacy = [] {
        auto* s = new Stream();  // lives as long as the process
        register_stream(s);
        return s;
    }();
    return legacy;
}

void register_stream(Stream* stream) {
    std::lock_guard<std::mutex> lock(streams_gate);
    streams.insert(stream);
}

bool unregister_stream(Stream* stream) {
    std::lock_guard<std::mutex> lock(streams_gate);
    return streams.erase(stream) == 1;
}

Stream* find_stream(void* handle) {
    if (handle == nullptr) return legacy_stream();
    std::lock_guard<std::mutex> lock(streams_gate);
    auto* s = static_cast<Stream*>(handle);
    return streams.count(s) ? s : nullptr;
}

void synchronize_all_streams() {
    std::vector<Stream*> all;
    {
        std::lock_guard<std::mutex> lock(streams_gate);
        all.assign(streams.begin(), streams.end());
    }
    for (Stream* s : all) s->wait_idle();
}

int enqueue(void* stream, const char* what, StreamWork work) {
    const int error = sticky_error();
    if (error != 0) return error;
    Stream* s = find_stream(stream);
    if (s == nullptr) return CudaErrorInvalidHandle;
    if (s->capture) {
        s->capture->nodes.push_back(QueuedWork{what, std::move(work)});
        return CudaSuccess;
    }
    s->push(QueuedWork{what, std::move(work)});
    return CudaSuccess;
}

}  // namespace emu
