// Fibers for CUDA threads: a stack and a saved stack pointer, switched by a few instructions of our own (x86-64
// System V: the callee-saved registers), with no system call per switch, which is what ucontext's swapcontext costs
// (it saves the signal mask).
#pragma once

#include <cstddef>

namespace emu {

// Saves the caller's registers on its stack, stores its stack pointer in *from, and resumes the context saved in
// `to` (as made by make_fiber_context or a previous switch). Returns when something switches back to *from.
extern "C" void emu_switch_context(void** from, void* to);

// A fresh context on [stack, stack + bytes) that, when first switched to, calls entry(argument). entry must never
// return (a fiber ends by switching away for good).
void* make_fiber_context(void* stack, size_t bytes, void (*entry)(void*), void* argument);

// Fiber stacks: mapped lazily (untouched pages cost nothing), with a PROT_NONE guard page below each so a stack
// overflow faults instead of writing into the neighbour.
struct FiberStack {
    unsigned char* base = nullptr;  // the guard page
    size_t bytes = 0;               // usable bytes above the guard page
    unsigned char* low() const { return base + page_bytes(); }
    unsigned char* high() const { return low() + bytes; }
    static size_t page_bytes();
};

FiberStack allocate_fiber_stack(size_t bytes);
void free_fiber_stack(FiberStack& stack);

}  // namespace emu
