// CUDA's atomics on real CPU atomics: blocks run on several OS threads at once. CUDA's are relaxed; these are
// sequentially consistent, which is stronger and so never breaks a kernel that is correct on a GPU.
#pragma once

#include <cstring>
#include <type_traits>

namespace emu {
namespace shim {
template <typename T> inline T atomic_fetch_add_integer(T* address, T value) {
    return __atomic_fetch_add(address, value, __ATOMIC_SEQ_CST);
}

// fetch-and-op for any type, by compare-and-swap on the value's bits (float and double adds, max).
template <typename T, typename Op> inline T atomic_update(T* address, Op op) {
    using Bits = std::conditional_t<sizeof(T) == 4, unsigned, unsigned long long>;
    static_assert(sizeof(T) == sizeof(Bits), "4- or 8-byte atomics only");
    Bits* word = reinterpret_cast<Bits*>(address);
    Bits expected = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    for (;;) {
        T old, updated;
        std::memcpy(&old, &expected, sizeof(T));
        updated = op(old);
        Bits desired;
        std::memcpy(&desired, &updated, sizeof(T));
        if (__atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return old;
    }
}

template <typename T> inline T atomic_max(T* address, T value) {
    return atomic_update(address, [value](T old) { return old < value ? value : old; });
}
template <typename T> inline T atomic_min(T* address, T value) {
    return atomic_update(address, [value](T old) { return value < old ? value : old; });
}
template <typename T> inline T atomic_exchange(T* address, T value) {
    return __atomic_exchange_n(address, value, __ATOMIC_SEQ_CST);
}
template <typename T> inline T atomic_compare_swap(T* address, T compare, T value) {
    __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare;  // the old value, whether or not the swap happened
}
}  // namespace shim
}  // namespace emu

inline int atomicAdd(int* a, int v) { return ::emu::shim::atomic_fetch_add_integer(a, v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return ::emu::shim::atomic_fetch_add_integer(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    return ::emu::shim::atomic_fetch_add_integer(a, v);
}
inline float atomicAdd(float* a, float v) { return ::emu::shim::atomic_update(a, [v](float old) { return old + v; }); }
inline double atomicAdd(double* a, double v) {
    return ::emu::shim::atomic_update(a, [v](double old) { return old + v; });
}

inline int atomicMax(int* a, int v) { return ::emu::shim::atomic_max(a, v); }
inline unsigned atomicMax(unsigned* a, unsigned v) { return ::emu::shim::atomic_max(a, v); }
inline long long atomicMax(long long* a, long long v) { return ::emu::shim::atomic_max(a, v); }
inline unsigned long long atomicMax(unsigned long long* a, unsigned long long v) { return ::emu::shim::atomic_max(a, v); }
inline int atomicMin(int* a, int v) { return ::emu::shim::atomic_min(a, v); }
inline unsigned atomicMin(unsigned* a, unsigned v) { return ::emu::shim::atomic_min(a, v); }
inline long long atomicMin(long long* a, long long v) { return ::emu::shim::atomic_min(a, v); }
inline unsigned long long atomicMin(unsigned long long* a, unsigned long long v) { return ::emu::shim::atomic_min(a, v); }

inline int atomicExch(int* a, int v) { return ::emu::shim::atomic_exchange(a, v); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return ::emu::shim::atomic_exchange(a, v); }
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) {
    return ::emu::shim::atomic_exchange(a, v);
}
inline float atomicExch(float* a, float v) { return ::emu::shim::atomic_update(a, [v](float) { return v; }); }

inline int atomicCAS(int* a, int compare, int v) { return ::emu::shim::atomic_compare_swap(a, compare, v); }
inline unsigned atomicCAS(unsigned* a, unsigned compare, unsigned v) {
    return ::emu::shim::atomic_compare_swap(a, compare, v);
}
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long compare, unsigned long long v) {
    return ::emu::shim::atomic_compare_swap(a, compare, v);
}
