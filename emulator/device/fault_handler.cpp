// Faults inside kernels: a SIGSEGV/SIGBUS/SIGFPE on a thread that is running a block leaves the block (siglongjmp
// to BlockRunner::run, which reports it with the faulting address described); any other fault goes to the handler
// that was there before (the .NET runtime's, for its own null references).
#include <pthread.h>

#include <atomic>
#include <mutex>

#include "block_runner.h"

namespace emu {
namespace blocks {
namespace {

std::string (*address_describer)(uintptr_t) = nullptr;

// The fault handler must not touch thread_local storage: in a library loaded with dlopen, a thread's first access
// may allocate (__tls_get_addr), which a signal handler that interrupted malloc cannot do. So threads inside a
// block are also listed here, found by pthread_self() with plain atomic loads.
constexpr int MaxBlockThreads = 256;
struct RunningSlot {
    std::atomic<pthread_t> thread;
    std::atomic<BlockRunner*> runner;
};
RunningSlot running_slots[MaxBlockThreads];

}  // namespace

int claim_running_slot(BlockRunner* r) {
    const pthread_t self = pthread_self();
    for (int i = 0; i < MaxBlockThreads; i++) {
        BlockRunner* expected = nullptr;
        if (running_slots[i].runner.load() == nullptr && running_slots[i].runner.compare_exchange_strong(expected, r)) {
            running_slots[i].thread.store(self);
            return i;
        }
    }
    fprintf(stderr, "CUDA emulator: more than %d threads run blocks at once\n", MaxBlockThreads);
    abort();
}

namespace {

BlockRunner* runner_of_this_thread() {
    const pthread_t self = pthread_self();
    for (int i = 0; i < MaxBlockThreads; i++) {
        BlockRunner* r = running_slots[i].runner.load();
        if (r != nullptr && pthread_equal(running_slots[i].thread.load(), self)) return r;
    }
    return nullptr;
}

}  // namespace

void release_running_slot(int slot) {
    running_slots[slot].thread.store(pthread_t{});
    running_slots[slot].runner.store(nullptr);
}

std::string describe_device_address_if_known(uintptr_t address) {
    return address_describer ? ": " + address_describer(address) : "";
}

namespace {


struct sigaction previous_segv, previous_bus, previous_fpe;

void chain(int signal, siginfo_t* info, void* context) {
    const struct sigaction& prev = signal == SIGSEGV ? previous_segv : signal == SIGBUS ? previous_bus : previous_fpe;
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) prev.sa_sigaction(signal, info, context);
        return;
    }
    if (prev.sa_handler == SIG_IGN) return;
    if (prev.sa_handler == SIG_DFL) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigaction(signal, &dfl, nullptr);
        return;  // the faulting instruction runs again and the default action ends the process
    }
    prev.sa_handler(signal);
}

void on_fault(int signal, siginfo_t* info, void* context) {
    BlockRunner* r = runner_of_this_thread();
    if (r != nullptr && r->in_block) r->escape_fault(info->si_addr, signal);
    chain(signal, info, context);
}

}  // namespace

void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_sigaction = &on_fault;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(SIGSEGV, &action, &previous_segv);
        sigaction(SIGBUS, &action, &previous_bus);
        sigaction(SIGFPE, &action, &previous_fpe);
    });
}

}  // namespace blocks

void set_address_describer(std::string (*describe)(uintptr_t)) { blocks::address_describer = describe; }

}  // namespace emu
