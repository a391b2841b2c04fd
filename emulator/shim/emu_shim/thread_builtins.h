// CUDA's per-thread built-ins (threadIdx …, __syncthreads, warp shuffles and votes, __trap, printf) over the emulated
// device's calls (emulator/device/device_runtime.h), which the fiber scheduler implements.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../device/device_runtime.h"

typedef ::emu::Dim3 uint3;
typedef ::emu::Dim3 dim3;

// Macros rather than variables: the scheduler switches current_thread between fibers of one OS thread, so every
// use must read it afresh. Their members are unsigned, as CUDA's, so index arithmetic converts as it does there.
#define threadIdx (::emu::current_thread->thread_idx)
#define blockIdx (::emu::current_block->block_idx)
#define blockDim (::emu::current_block->block_dim)
#define gridDim (::emu::current_block->grid_dim)

constexpr int warpSize = 32;

inline void __syncthreads() { ::emu::sync_threads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::emu::sync_warp(mask); }

namespace emu {
namespace shim {
// A shuffle moves a value's bytes, whatever its type (int, float, double, __half …), as the GPU moves registers.
template <typename T>
inline T shuffle_bits(ShuffleKind kind, unsigned mask, T value, int operand, int width) {
    static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "__shfl_*_sync moves at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = ::emu::shuffle(kind, mask, bits, operand, width);
    T result;
    std::memcpy(&result, &bits, sizeof(T));
    return result;
}
}  // namespace shim
}  // namespace emu

template <typename T> inline T __shfl_sync(unsigned mask, T value, int source_lane, int width = warpSize) {
    return ::emu::shim::shuffle_bits(::emu::ShuffleKind::Index, mask, value, source_lane, width);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
    return ::emu::shim::shuffle_bits(::emu::ShuffleKind::Up, mask, value, (int)delta, width);
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize) {
    return ::emu::shim::shuffle_bits(::emu::ShuffleKind::Down, mask, value, (int)delta, width);
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize) {
    return ::emu::shim::shuffle_bits(::emu::ShuffleKind::Xor, mask, value, lane_mask, width);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::emu::ballot(mask, predicate != 0); }
inline int __all_sync(unsigned mask, int predicate) { return ::emu::ballot(mask, predicate != 0) == mask; }
inline int __any_sync(unsigned mask, int predicate) { return ::emu::ballot(mask, predicate != 0) != 0; }

[[noreturn]] inline void __trap() { ::emu::trap("__trap()"); }

// Device printf goes to the launch's output, flushed per block as a GPU does. A function-like macro, defined after
// every C library header the shim needs, so no later declaration of printf is rewritten.
#define printf(...) ::emu::device_printf(__VA_ARGS__)
