// A kernel as the emulated driver sees it: its extern "C" name, its parameters' sizes (from its own signature, by
// template deduction: never a hand-written list) and a function that calls it with the parameters cuLaunchKernel's
// void** kernelParams points at. kernels/kernel_table.cpp (generated from kernels/*.cu by CMake) lists every entry.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace emu {

constexpr int MaxKernelParameters = 32;

struct KernelEntry {
    const char* name;
    void (*invoke)(void** parameters);  // runs the kernel body once, for the calling fiber's thread
    int parameter_count;
    size_t parameter_sizes[MaxKernelParameters];
    size_t parameter_alignments[MaxKernelParameters];
};

namespace detail {
template <typename F, F Kernel> struct Invoker;
template <typename... Args, void (*Kernel)(Args...)> struct Invoker<void (*)(Args...), Kernel> {
    static_assert(sizeof...(Args) <= MaxKernelParameters, "raise emu::MaxKernelParameters");
    template <size_t... I> static void call(void** p, std::index_sequence<I...>) {
        Kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<Args>>*>(p[I])...);
    }
    static void invoke(void** p) { call(p, std::index_sequence_for<Args...>{}); }
    static constexpr KernelEntry entry(const char* name) {
        return KernelEntry{name, &invoke, (int)sizeof...(Args), {sizeof(std::remove_cv_t<Args>)...},
                           {alignof(std::remove_cv_t<Args>)...}};
    }
};
}  // namespace detail

// EMU_KERNEL_ENTRY(name): the table row for the extern "C" kernel `name`.
#define EMU_KERNEL_ENTRY(name) ::emu::detail::Invoker<decltype(&name), &name>::entry(#name)

// The generated table (kernels/kernel_table.cpp).
extern const KernelEntry kernel_table[];
extern const size_t kernel_table_size;

}  // namespace emu
