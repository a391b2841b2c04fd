// One block of a launch on the calling OS thread: its CUDA threads as fibers, switched at barriers and warp
// collectives, in the launch's schedule order; and what it reports (non-converged collectives, barriers not every
// thread reaches, traps, dynamic shared memory overruns, faults). scheduler.cpp shares blocks out among threads;
// fault_handler.cpp turns a fault inside a block into an error of that block.
#pragma once

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fiber.h"
#include "scheduler.h"

namespace emu::blocks {

constexpr int CudaErrorIllegalAddressCode = 700;
constexpr int CudaErrorIllegalInstructionCode = 715;
constexpr int CudaErrorLaunchFailedCode = 719;
constexpr unsigned WarpSize = 32;
constexpr size_t SharedCanaryBytes = 128;  // room left before the guard page so the base stays 128-byte aligned
constexpr unsigned char UninitialisedByte = 0xFF;  // NaN in fp32, bf16, fp16 and fp64; -1 as an integer

enum class FiberState : uint8_t { Ready, AtBarrier, AtWarp, Exited, Trapped };
enum class Collective : uint8_t { SyncWarp, Shuffle, Ballot };

struct Fiber {
    void* sp = nullptr;
    int stack = -1;  // the stack it runs on, taken when it first runs (-1: not started)
    ThreadContext ctx;
    FiberState state = FiberState::Ready;
    Collective op = Collective::SyncWarp;
    ShuffleKind kind = ShuffleKind::Index;
    unsigned mask = 0;
    uint64_t value = 0, result = 0;
    int operand = 0, width = 32;
    bool predicate = false;
};

// A warp collective some lanes have reached: complete when every lane of `mask` has arrived.
struct WarpGroup {
    Collective op;
    ShuffleKind kind;
    unsigned mask;
    unsigned arrived;
};

// Runs blocks on the calling OS thread; one per thread that runs blocks (thread_local), keeping its fiber stacks
// and its dynamic shared memory between launches.
class BlockRunner {
public:
    BlockRunner() {
        const size_t page = FiberStack::page_bytes();
        shared_region_bytes = (MaxDynamicSharedBytes + SharedCanaryBytes + page - 1) / page * page;
        void* p = mmap(nullptr, shared_region_bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("CUDA emulator: mmap of shared memory"); abort(); }
        shared_region = static_cast<unsigned char*>(p);
        shared_guard = shared_region + shared_region_bytes;
        mprotect(shared_guard, page, PROT_NONE);
        // Faults are handled on their own stack: a fiber stack overflow leaves none to run a handler on. The
        // thread's previous alternate stack (if it had one) comes back when the runner goes.
        alt_stack = allocate_fiber_stack(AltStackBytes);
        stack_t ss{};
        ss.ss_sp = alt_stack.low();
        ss.ss_size = alt_stack.bytes;
        sigaltstack(&ss, &previous_alt_stack);
    }

    // Runs at the thread's exit: the alternate signal stack is unregistered before its memory goes.
    ~BlockRunner() {
        sigaltstack(&previous_alt_stack, nullptr);
        free_fiber_stack(alt_stack);
        for (FiberStack& s : stacks) free_fiber_stack(s);
        munmap(shared_region, shared_region_bytes + FiberStack::page_bytes());
    }

    // Runs one block; returns 0 or a CUresult with `error` set.
    int run(const GridLaunch& launch, Dim3 block_idx, uint64_t block_linear);

    // Called from the fault handler: whether this thread was inside a block (then it does not return).
    [[noreturn]] void escape_fault(void* address, int signal) {
        fault_address = reinterpret_cast<uintptr_t>(address);
        fault_signal = signal;
        siglongjmp(recovery, 1);
    }

    bool in_block = false;
    std::string error;

    // device_runtime.h's calls, from the running fiber
    void yield(Fiber* f) { emu_switch_context(&f->sp, scheduler_sp); }
    Fiber* running() { return &fibers[running_index]; }
    std::string where(const Fiber& f) const;
    std::string trap_message;

private:
    int run_fibers();
    void order(unsigned* lanes, size_t count);
    void order(std::vector<unsigned>& lanes) { order(lanes.data(), lanes.size()); }
    bool arrive(Fiber& f);
    bool exited(Fiber& f);
    void complete(std::vector<WarpGroup>& groups, size_t index, unsigned warp);
    std::string describe_deadlock();
    std::string describe_fault() const;

    const GridLaunch* launch = nullptr;
    BlockContext block{};
    uint64_t block_linear = 0, phase = 0;
    std::vector<FiberStack> stacks;
    // Stacks no running thread holds, most recently freed last: a thread that starts takes the one its predecessor
    // just left, still in cache, so a block whose threads never wait runs them all on one or two stacks.
    std::vector<unsigned> free_stacks;
    std::vector<Fiber> fibers;
    std::vector<std::vector<WarpGroup>> warp_groups;
    std::vector<unsigned> exited_lanes;  // per warp: the lanes that have exited (a collective naming one can never end)

    // The runnable fibers in the order they go: a ring over at most every thread of the block.
    struct ReadyQueue {
        std::vector<unsigned> slots;
        size_t head = 0, count = 0;
        void reset(unsigned capacity) {
            if (slots.size() < capacity) slots.resize(capacity);
            head = count = 0;
        }
        bool empty() const { return count == 0; }
        void push(unsigned i) { slots[(head + count++) % slots.size()] = i; }
        unsigned pop() {
            const unsigned i = slots[head];
            head = (head + 1) % slots.size();
            count--;
            return i;
        }
    } ready;
    unsigned thread_count = 0, live = 0, at_barrier = 0, running_index = 0;
    void* scheduler_sp = nullptr;
    unsigned char* shared_region = nullptr;
    unsigned char* shared_guard = nullptr;
    size_t shared_region_bytes = 0;
    static constexpr size_t AltStackBytes = 64 * 1024;
    FiberStack alt_stack;
    stack_t previous_alt_stack{};
    sigjmp_buf recovery;
    uintptr_t fault_address = 0;
    int fault_signal = 0;
    static void fiber_entry(void* argument);
};

// The runner of the calling thread (made on first use, kept with its stacks until the thread ends).
BlockRunner& runner();
// The runner inside a block on this thread, else null (set by BlockRunner::run).
extern thread_local BlockRunner* active_runner EMU_FAST_TLS;

// fault_handler.cpp: the process-wide handler for faults inside blocks, the registry it finds this thread's runner
// in, and the driver's describer of device addresses.
void install_fault_handler();
int claim_running_slot(BlockRunner* runner);
void release_running_slot(int slot);
std::string describe_device_address_if_known(uintptr_t address);

}  // namespace emu::blocks
