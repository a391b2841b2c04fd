// The device side of the emulated GPU, as kernels see it: the thread and block indices of the running fiber,
// barriers and warp collectives, dynamic shared memory, traps. shim/*.h turns CUDA's spellings (threadIdx,
// __syncthreads, __shfl_xor_sync, extern __shared__ …) into these calls; device/scheduler.cpp implements them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace emu {

struct Dim3 {
    unsigned x = 1, y = 1, z = 1;
};

// One CUDA thread: a fiber. The scheduler sets current_thread before it switches to a fiber.
struct ThreadContext {
    Dim3 thread_idx;
    unsigned linear = 0;  // x + y·dim.x + z·dim.x·dim.y
    unsigned lane = 0;    // linear % 32
    unsigned warp = 0;    // linear / 32
};

// One block: every fiber of it runs on the same OS thread, so static __shared__ (thread_local) is per block.
struct BlockContext {
    Dim3 block_idx, block_dim, grid_dim;
    unsigned char* dynamic_shared = nullptr;  // the launch's dynamic shared memory (sharedBytes of cuLaunchKernel)
    size_t dynamic_shared_bytes = 0;
};

// Initial-exec: kernels read threadIdx and blockIdx all the time, and the default model for a library that is loaded
// with dlopen makes each read a call (__tls_get_addr). Two pointers fit the static TLS the loader keeps for that.
#define EMU_FAST_TLS __attribute__((tls_model("initial-exec")))
extern thread_local ThreadContext* current_thread EMU_FAST_TLS;
extern thread_local BlockContext* current_block EMU_FAST_TLS;

// __syncthreads: waits until every thread of the block that has not exited arrives at a block barrier.
void sync_threads();
// __syncwarp(mask): waits until every lane named in mask arrives; the caller must be in mask.
void sync_warp(unsigned mask);

enum class ShuffleKind { Index, Up, Down, Xor };
// __shfl_*_sync on a 4- or 8-byte value passed as bits: a warp collective over the lanes in mask (each must call the
// same kind with the same mask; a named lane that exited or waits elsewhere is an error, as it is undefined on a GPU).
// operand: the source lane (Index), the delta (Up/Down) or the lane mask (Xor); width: a power of two ≤ 32.
uint64_t shuffle(ShuffleKind kind, unsigned mask, uint64_t value, int operand, int width);
// __ballot_sync / __all_sync / __any_sync: the mask of lanes in `mask` whose predicate is true.
unsigned ballot(unsigned mask, bool predicate);

// __trap and failed device checks: ends the launch with CUDA_ERROR_ASSERT (710) / ILLEGAL_INSTRUCTION, naming `what`.
[[noreturn]] void trap(const char* what);

// Device printf: formatted into the launch's output, printed (stdout) when the block finishes, as a GPU flushes it.
void device_printf(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace emu
