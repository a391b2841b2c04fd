// Runs a kernel's grid on the CPU: each block on one OS thread, its CUDA threads as fibers switched at barriers
// and warp collectives, blocks shared out among worker threads. What a GPU would not report is checked here:
// non-converged warp collectives, barriers some threads never reach, traps, dynamic shared memory overruns (a
// guard page right after the launch's size), fiber stack overflows, and (through the driver's fault hook) device
// memory outside every allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "device_runtime.h"
#include "kernel_entry.h"

namespace emu {

// The order in which a block's runnable fibers go after each barrier or collective: thread order, its reverse, or
// a permutation drawn from a seed (and the block and phase), so that a missing __syncthreads or __syncwarp
// changes results from one order to another.
enum class ScheduleOrder { Forward, Reverse, Shuffled };

struct Schedule {
    ScheduleOrder order = ScheduleOrder::Forward;
    uint64_t seed = 0;
};

struct GridLaunch {
    const KernelEntry* kernel = nullptr;
    Dim3 grid, block;
    size_t dynamic_shared_bytes = 0;
    void** parameters = nullptr;  // one pointer per parameter, to values that live until the launch ends
    Schedule schedule;
};

// Runs every block; returns CUDA_SUCCESS (0) or the CUresult of the first fault, with `message` describing it
// (kernel, block, thread, what happened).
int run_grid(const GridLaunch& launch, std::string& message);

// Most dynamic shared memory a block may use (an H100's opt-in limit: 227 KiB).
constexpr size_t MaxDynamicSharedBytes = 227 * 1024;
// Stack per CUDA thread (fiber): GPU threads have little local memory; kernels keep small arrays and WMMA
// fragments there, plus what libm needs.
constexpr size_t FiberStackBytes = 64 * 1024;

// The driver describes device addresses a kernel faulted on ("12 bytes past the end of allocation …").
void set_address_describer(std::string (*describe)(uintptr_t address));

// Worker threads that run blocks beside the launching thread (ENGINE_CUDA_EMULATOR_THREADS, default: the cores).
int worker_threads();

}  // namespace emu
