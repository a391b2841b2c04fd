#include "context.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "../device/environment.h"
#include "host_runtime.h"
#include "memory.h"
#include "streams.h"

namespace emu {
namespace {

std::atomic<bool> initialized{false};
std::mutex gate;
thread_local PrimaryContext* current = nullptr;
thread_local int refused_code = 0;
thread_local std::string refused_detail;

std::vector<PrimaryContext>& contexts() {
    static std::vector<PrimaryContext>* all = [] {
        auto* v = new std::vector<PrimaryContext>(size_t(device_count()));
        for (size_t i = 0; i < v->size(); i++) (*v)[i].device = int(i);
        return v;
    }();
    return *all;
}

}  // namespace

int device_count() {
    static const int count = int(environment_number("ENGINE_CUDA_EMULATOR_DEVICES", 8, 0));
    return count;
}

PrimaryContext* primary_context(int device) {
    if (device < 0 || device >= device_count()) return nullptr;
    return &contexts()[size_t(device)];
}

bool driver_initialized() { return initialized.load(); }
void mark_initialized() { initialized.store(true); }

int require_context() {
    if (!initialized.load()) return CudaErrorNotInitialized;
    if (current == nullptr) return refuse(CudaErrorInvalidContext, "this thread has no current context (cuCtxSetCurrent)");
    if (current->references == 0) return refuse(CudaErrorInvalidContext, "the current context was released");
    return CudaSuccess;
}

int usable_context() {
    if (int c = require_context()) return c;
    return sticky_error();
}

void set_current_context(PrimaryContext* context) { current = context; }
PrimaryContext* current_context() { return current; }

int current_device() { return current ? current->device : -1; }

void retain(PrimaryContext* context) {
    std::lock_guard<std::mutex> lock(gate);
    context->references++;
}

int release(PrimaryContext* context) {
    std::lock_guard<std::mutex> lock(gate);
    if (context->references == 0) return CudaErrorInvalidContext;
    context->references--;
    for (const PrimaryContext& c : contexts())
        if (c.references > 0) return CudaSuccess;
    synchronize_all_streams();
    free_all_device_memory();
    clear_sticky_error();
    return CudaSuccess;
}

int refuse(int code, const std::string& detail) {
    refused_code = code;
    refused_detail = detail;
    return code;
}

const char* refusal_detail(int code) { return code == refused_code && !refused_detail.empty() ? refused_detail.c_str() : nullptr; }

}  // namespace emu
