// Modules, functions and launches: cuModuleGetFunction finds a kernel in the table compiled into this library
// (kernels/*.cu built for the CPU), cuLaunchKernel checks the launch as the driver would, copies the arguments
// (by the kernel's own parameter sizes) and queues the grid on the stream; device/scheduler.cpp runs it.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../device/kernel_entry.h"
#include "../device/scheduler.h"
#include "context.h"
#include "export.h"
#include "host_runtime.h"
#include "memory.h"
#include "module_image.h"
#include "streams.h"

using namespace emu;

namespace {

constexpr int FunctionAttributeMaxDynamicSharedSizeBytes = 8;
constexpr size_t DefaultDynamicSharedLimit = 48 * 1024;

struct Function {
    const KernelEntry* entry;
    size_t max_dynamic_shared = DefaultDynamicSharedLimit;
};

struct Module {
    std::vector<std::unique_ptr<Function>> functions;
    std::mutex mutex;
};

std::mutex modules_gate;
std::set<Module*> modules;
std::set<Function*> functions;

Schedule schedule_from_environment() {
    Schedule s;
    const char* v = getenv("ENGINE_CUDA_EMULATOR_SCHEDULE");
    if (v == nullptr || *v == 0 || strcmp(v, "forward") == 0) return s;
    if (strcmp(v, "reverse") == 0) {
        s.order = ScheduleOrder::Reverse;
        return s;
    }
    if (strncmp(v, "shuffle", 7) == 0) {
        s.order = ScheduleOrder::Shuffled;
        const char* colon = strchr(v, ':');
        s.seed = colon ? strtoull(colon + 1, nullptr, 10) : 1;
        return s;
    }
    fprintf(stderr, "CUDA emulator: ENGINE_CUDA_EMULATOR_SCHEDULE=%s is not forward, reverse or shuffle[:seed]; using forward\n", v);
    return s;
}

const Schedule& configured_schedule() {
    static const Schedule s = schedule_from_environment();
    return s;
}

std::atomic<uint64_t> launches{0};


}  // namespace

EMU_EXPORT int cuModuleLoadData(void** module, const void* image) {
    if (int c = require_context()) return c;
    if (module == nullptr || image == nullptr) return CudaErrorInvalidValue;
    const auto* bytes = static_cast<const unsigned char*>(image);
    if (memcmp(bytes, ModuleImageMagic, sizeof ModuleImageMagic - 1) != 0) {
        const uint32_t fatbin_magic = 0xBA55ED50u;
        uint32_t first;
        memcpy(&first, bytes, 4);
        const bool gpu_code = first == fatbin_magic || memcmp(bytes, "\x7f" "ELF", 4) == 0 || memcmp(bytes, "//", 2) == 0 ||
                              memcmp(bytes, ".version", 8) == 0;
        if (gpu_code)
            return refuse(CudaErrorNoBinaryForGpu, "this image holds GPU code; the emulator runs kernels/*.cu compiled for the CPU into "
                                                   "libengine_cuda_emulator.so, whose module image is engine_kernels.emu");
        return refuse(CudaErrorInvalidImage, "not a module image (expected engine_kernels.emu)");
    }
    auto* m = new Module();
    std::lock_guard<std::mutex> lock(modules_gate);
    modules.insert(m);
    *module = m;
    return CudaSuccess;
}

EMU_EXPORT int cuModuleUnload(void* module) {
    std::lock_guard<std::mutex> lock(modules_gate);
    auto* m = static_cast<Module*>(module);
    if (modules.erase(m) == 0) return CudaErrorInvalidHandle;
    for (auto& f : m->functions) functions.erase(f.get());
    delete m;
    return CudaSuccess;
}

EMU_EXPORT int cuModuleGetFunction(void** function, void* module, const char* name) {
    if (int c = require_context()) return c;
    if (function == nullptr || name == nullptr) return CudaErrorInvalidValue;
    std::lock_guard<std::mutex> lock(modules_gate);
    auto* m = static_cast<Module*>(module);
    if (modules.count(m) == 0) return CudaErrorInvalidHandle;
    for (size_t i = 0; i < kernel_table_size; i++)
        if (strcmp(kernel_table[i].name, name) == 0) {
            auto f = std::make_unique<Function>();
            f->entry = &kernel_table[i];
            *function = f.get();
            functions.insert(f.get());
            m->functions.push_back(std::move(f));
            return CudaSuccess;
        }
    return refuse(CudaErrorNotFound, std::string("no kernel named ") + name + " in kernels/*.cu");
}

EMU_EXPORT int cuFuncSetAttribute(void* function, int attribute, int value) {
    if (int c = require_context()) return c;
    std::lock_guard<std::mutex> lock(modules_gate);
    auto* f = static_cast<Function*>(function);
    if (functions.count(f) == 0) return CudaErrorInvalidHandle;
    if (attribute != FunctionAttributeMaxDynamicSharedSizeBytes)
        return refuse(CudaErrorInvalidValue, "function attribute " + std::to_string(attribute) + " is not one the emulator models");
    if (value < 0 || size_t(value) > MaxDynamicSharedBytes)
        return refuse(CudaErrorInvalidValue, std::to_string(value) + " bytes of dynamic shared memory exceed the device's opt-in limit of " +
                                                 std::to_string(MaxDynamicSharedBytes));
    f->max_dynamic_shared = size_t(value);
    return CudaSuccess;
}

EMU_EXPORT int cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                              unsigned block_y, unsigned block_z, unsigned shared_bytes, void* stream, void** parameters,
                              void** extra) {
    if (int c = require_context()) return c;
    if (int c = sticky_error()) return c;
    Function* f;
    {
        std::lock_guard<std::mutex> lock(modules_gate);
        f = static_cast<Function*>(function);
        if (functions.count(f) == 0) return CudaErrorInvalidHandle;
    }
    const KernelEntry& k = *f->entry;
    const std::string name = k.name;
    if (grid_x == 0 || grid_y == 0 || grid_z == 0 || block_x == 0 || block_y == 0 || block_z == 0)
        return refuse(CudaErrorInvalidValue, name + ": a grid or block dimension is 0");
    if (grid_x > 2147483647u || grid_y > 65535 || grid_z > 65535)
        return refuse(CudaErrorInvalidValue, name + ": grid (" + std::to_string(grid_x) + ", " + std::to_string(grid_y) + ", " +
                                                 std::to_string(grid_z) + ") exceeds (2^31 - 1, 65535, 65535)");
    if (block_x > 1024 || block_y > 1024 || block_z > 64 || uint64_t(block_x) * block_y * block_z > 1024)
        return refuse(CudaErrorInvalidValue, name + ": block (" + std::to_string(block_x) + ", " + std::to_string(block_y) + ", " +
                                                 std::to_string(block_z) + ") exceeds 1024 threads or (1024, 1024, 64)");
    if (shared_bytes > f->max_dynamic_shared)
        return refuse(CudaErrorInvalidValue, name + ": " + std::to_string(shared_bytes) + " bytes of dynamic shared memory exceed the function's limit of " +
                                                 std::to_string(f->max_dynamic_shared) + " (raise it with cuFuncSetAttribute, up to " +
                                                 std::to_string(MaxDynamicSharedBytes) + ")");
    if (extra != nullptr) return refuse(CudaErrorInvalidValue, name + ": the emulator takes kernel arguments through kernelParams only");
    if (k.parameter_count > 0 && parameters == nullptr) return refuse(CudaErrorInvalidValue, name + ": kernelParams is null");

    // cuLaunchKernel copies the arguments: the caller's values may change as soon as it returns.
    size_t offsets[MaxKernelParameters], total = 0;
    for (int i = 0; i < k.parameter_count; i++) {
        total = (total + k.parameter_alignments[i] - 1) / k.parameter_alignments[i] * k.parameter_alignments[i];
        offsets[i] = total;
        total += k.parameter_sizes[i];
    }
    auto storage = std::make_shared<std::vector<uint64_t>>((total + 7) / 8 + 1);
    auto* base = reinterpret_cast<unsigned char*>(storage->data());
    for (int i = 0; i < k.parameter_count; i++) {
        if (parameters[i] == nullptr) return refuse(CudaErrorInvalidValue, name + ": kernelParams[" + std::to_string(i) + "] is null");
        memcpy(base + offsets[i], parameters[i], k.parameter_sizes[i]);
    }
    auto pointers = std::make_shared<std::vector<void*>>(size_t(k.parameter_count));
    for (int i = 0; i < k.parameter_count; i++) (*pointers)[size_t(i)] = base + offsets[i];

    GridLaunch launch;
    launch.kernel = &k;
    launch.grid = Dim3{grid_x, grid_y, grid_z};
    launch.block = Dim3{block_x, block_y, block_z};
    launch.dynamic_shared_bytes = shared_bytes;
    launch.schedule = configured_schedule();
    return enqueue(stream, k.name, [launch, storage, pointers](std::string& message) mutable {
        launch.parameters = pointers->data();
        launch.schedule.seed ^= launches.fetch_add(1) * 0x9E3779B97F4A7C15ull;
        const int code = run_grid(launch, message);
        if (code != 0) return code;
        std::string corrupted;
        if (find_corrupted_slack(&corrupted)) {
            message = std::string("kernel ") + launch.kernel->name + " (or a kernel running beside it on another stream) " + corrupted;
            return int(CudaErrorIllegalAddress);
        }
        return int(CudaSuccess);
    });
}
