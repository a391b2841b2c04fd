#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

// The switch: push the callee-saved registers, save rsp, load the other context's rsp, pop the same. A new context is
// laid out by make_fiber_context so that this same epilogue "returns" into emu_fiber_start. MXCSR and the x87
// control word are not switched: every fiber of a thread computes in the thread's modes and no kernel changes them
// (their save and restore were a third of a switch's cost).
asm(R"(
    .text
    .globl emu_switch_context
    .hidden emu_switch_context
    .type emu_switch_context, @function
emu_switch_context:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch_context, .-emu_switch_context

    .globl emu_fiber_start
    .hidden emu_fiber_start
    .type emu_fiber_start, @function
emu_fiber_start:
    andq $-16, %rsp
    movq %r12, %rdi
    callq *%r13
    ud2
    .size emu_fiber_start, .-emu_fiber_start
)");

extern "C" void emu_fiber_start();

namespace emu {

void* make_fiber_context(void* stack, size_t bytes, void (*entry)(void*), void* argument) {
    auto top = reinterpret_cast<uintptr_t>(stack) + bytes;
    top &= ~uintptr_t(15);
    auto* slot = reinterpret_cast<uint64_t*>(top);
    *--slot = 0;                                            // alignment pad; never read
    *--slot = reinterpret_cast<uint64_t>(&emu_fiber_start);  // where the switch's `ret` goes
    *--slot = 0;                                            // rbp
    *--slot = 0;                                            // rbx
    *--slot = reinterpret_cast<uint64_t>(argument);         // r12: emu_fiber_start's argument
    *--slot = reinterpret_cast<uint64_t>(entry);            // r13: the function it calls
    *--slot = 0;                                            // r14
    *--slot = 0;                                            // r15
    return slot;
}

size_t FiberStack::page_bytes() {
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    return page;
}

FiberStack allocate_fiber_stack(size_t bytes) {
    const size_t page = FiberStack::page_bytes();
    bytes = (bytes + page - 1) / page * page;
    void* p = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("CUDA emulator: mmap of a fiber stack");
        abort();
    }
    mprotect(p, page, PROT_NONE);
    FiberStack s;
    s.base = static_cast<unsigned char*>(p);
    s.bytes = bytes;
    return s;
}

void free_fiber_stack(FiberStack& stack) {
    if (stack.base) munmap(stack.base, stack.bytes + FiberStack::page_bytes());
    stack = FiberStack{};
}

}  // namespace emu
