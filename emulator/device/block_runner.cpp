#include "block_runner.h"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <memory>

namespace emu {

thread_local ThreadContext* current_thread EMU_FAST_TLS = nullptr;
thread_local BlockContext* current_block EMU_FAST_TLS = nullptr;

namespace blocks {

thread_local BlockRunner* active_runner EMU_FAST_TLS = nullptr;

namespace {

const char* collective_name(Collective op, ShuffleKind kind) {
    if (op == Collective::SyncWarp) return "__syncwarp";
    if (op == Collective::Ballot) return "__ballot_sync/__all_sync/__any_sync";
    switch (kind) {
        case ShuffleKind::Index: return "__shfl_sync";
        case ShuffleKind::Up: return "__shfl_up_sync";
        case ShuffleKind::Down: return "__shfl_down_sync";
        case ShuffleKind::Xor: return "__shfl_xor_sync";
    }
    return "?";
}

uint64_t splitmix(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::string hex(uint64_t v) {
    char b[32];
    snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
    return b;
}

// Runs blocks on the calling OS thread; one per thread that runs blocks (thread_local), keeping its fiber stacks

}  // namespace

BlockRunner& runner() {
    thread_local std::unique_ptr<BlockRunner> r;
    if (!r) r = std::make_unique<BlockRunner>();
    return *r;
}

std::string BlockRunner::where(const Fiber& f) const {
    char b[256];
    snprintf(b, sizeof b, "kernel %s, block (%u,%u,%u), thread (%u,%u,%u)", launch->kernel->name, block.block_idx.x,
             block.block_idx.y, block.block_idx.z, f.ctx.thread_idx.x, f.ctx.thread_idx.y, f.ctx.thread_idx.z);
    return b;
}

void BlockRunner::fiber_entry(void* argument) {
    auto* f = static_cast<Fiber*>(argument);
    BlockRunner* r = active_runner;
    r->launch->kernel->invoke(r->launch->parameters);
    f->state = FiberState::Exited;
    r->yield(f);
    __builtin_trap();  // an exited fiber is never resumed
}

void BlockRunner::order(unsigned* lanes, size_t count) {
    switch (launch->schedule.order) {
        case ScheduleOrder::Forward: break;
        case ScheduleOrder::Reverse: std::reverse(lanes, lanes + count); break;
        case ScheduleOrder::Shuffled: {
            uint64_t state = launch->schedule.seed ^ (block_linear * 0xD1B54A32D192ED03ull) ^ (phase++ * 0x8CB92BA72F3D8DD7ull);
            for (size_t i = count; i > 1; i--) std::swap(lanes[i - 1], lanes[splitmix(state) % i]);
            break;
        }
    }
}

int BlockRunner::run(const GridLaunch& l, Dim3 block_idx, uint64_t linear) {
    launch = &l;
    block_linear = linear;
    phase = 0;
    block.block_idx = block_idx;
    block.block_dim = l.block;
    block.grid_dim = l.grid;
    thread_count = l.block.x * l.block.y * l.block.z;
    // Dynamic shared memory ends at a guard page (an access past the launch's size faults at once); the few bytes
    // between the 128-byte aligned end and the page are a canary, checked when the block ends.
    uintptr_t base = (reinterpret_cast<uintptr_t>(shared_guard) - l.dynamic_shared_bytes) & ~uintptr_t(127);
    block.dynamic_shared = reinterpret_cast<unsigned char*>(base);
    block.dynamic_shared_bytes = l.dynamic_shared_bytes;
    memset(block.dynamic_shared, UninitialisedByte, shared_guard - block.dynamic_shared);

    free_stacks.clear();
    for (unsigned i = unsigned(stacks.size()); i > 0; i--) free_stacks.push_back(i - 1);
    if (fibers.size() < thread_count) fibers.resize(thread_count);
    const unsigned warps = (thread_count + WarpSize - 1) / WarpSize;
    if (warp_groups.size() < warps) warp_groups.resize(warps);
    for (unsigned w = 0; w < warps; w++) warp_groups[w].clear();
    exited_lanes.assign(warps, 0u);
    ready.reset(thread_count);
    std::vector<unsigned> all(thread_count);
    for (unsigned i = 0; i < thread_count; i++) {
        Fiber& f = fibers[i];
        f = Fiber{};
        f.ctx.thread_idx = Dim3{i % l.block.x, (i / l.block.x) % l.block.y, i / (l.block.x * l.block.y)};
        f.ctx.linear = i;
        f.ctx.lane = i % WarpSize;
        f.ctx.warp = i / WarpSize;
        all[i] = i;
    }
    order(all);
    for (unsigned i : all) ready.push(i);
    live = thread_count;
    at_barrier = 0;
    error.clear();

    current_block = &block;
    active_runner = this;
    const int slot = claim_running_slot(this);
    in_block = true;
    int code;
    if (sigsetjmp(recovery, 0) == 0) {
        code = run_fibers();
    } else {
        code = CudaErrorIllegalAddressCode;
        error = describe_fault();
        if (fault_signal == SIGFPE) code = CudaErrorIllegalInstructionCode;
    }
    in_block = false;
    release_running_slot(slot);
    active_runner = nullptr;
    current_block = nullptr;
    current_thread = nullptr;
    if (code == 0) {
        const unsigned char* end = block.dynamic_shared + l.dynamic_shared_bytes;
        for (const unsigned char* p = end; p < shared_guard; p++)
            if (*p != UninitialisedByte) {
                char b[256];
                snprintf(b, sizeof b, "kernel %s, block (%u,%u,%u): wrote dynamic shared memory at byte %zu, past the launch's %zu bytes",
                         l.kernel->name, block_idx.x, block_idx.y, block_idx.z, size_t(p - block.dynamic_shared), l.dynamic_shared_bytes);
                error = b;
                return CudaErrorIllegalAddressCode;
            }
    }
    return code;
}

std::string BlockRunner::describe_fault() const {
    const Fiber& f = fibers[running_index];
    std::string what = fault_signal == SIGFPE ? "arithmetic fault (integer division by zero?)" : "illegal memory access";
    std::string text = where(f) + ": " + what + " at address " + hex(fault_address);
    const uintptr_t page = FiberStack::page_bytes();
    const auto guard = reinterpret_cast<uintptr_t>(shared_guard);
    if (fault_address >= guard && fault_address < guard + page) {
        text += ": dynamic shared memory byte " + std::to_string(fault_address - reinterpret_cast<uintptr_t>(block.dynamic_shared)) +
                ", past the launch's " + std::to_string(block.dynamic_shared_bytes) + " bytes";
        return text;
    }
    for (const FiberStack& s : stacks)
        if (fault_address >= reinterpret_cast<uintptr_t>(s.base) && fault_address < reinterpret_cast<uintptr_t>(s.low()))
            return text + ": the thread's stack overflowed (" + std::to_string(FiberStackBytes / 1024) + " KiB per CUDA thread)";
    if (fault_signal != SIGFPE) text += describe_device_address_if_known(fault_address);
    return text;
}

int BlockRunner::run_fibers() {
    for (;;) {
        while (!ready.empty()) {
            running_index = ready.pop();
            Fiber& f = fibers[running_index];
            if (f.stack < 0) {
                if (free_stacks.empty()) {
                    free_stacks.push_back(unsigned(stacks.size()));
                    stacks.push_back(allocate_fiber_stack(FiberStackBytes));
                }
                f.stack = int(free_stacks.back());
                free_stacks.pop_back();
                f.sp = make_fiber_context(stacks[f.stack].low(), stacks[f.stack].bytes, &fiber_entry, &f);
            }
            current_thread = &f.ctx;
            emu_switch_context(&scheduler_sp, f.sp);
            switch (f.state) {
                case FiberState::Exited:
                    live--;
                    free_stacks.push_back(unsigned(f.stack));
                    exited_lanes[f.ctx.warp] |= 1u << f.ctx.lane;
                    if (!exited(f)) return CudaErrorLaunchFailedCode;
                    break;
                case FiberState::AtBarrier: at_barrier++; break;
                case FiberState::AtWarp:
                    if (!arrive(f)) return CudaErrorLaunchFailedCode;
                    break;
                case FiberState::Trapped: error = where(f) + ": " + trap_message; return CudaErrorIllegalInstructionCode;
                case FiberState::Ready: break;
            }
        }
        if (live == 0) return 0;
        if (at_barrier == live) {
            std::vector<unsigned> waiting;
            for (unsigned i = 0; i < thread_count; i++)
                if (fibers[i].state == FiberState::AtBarrier) {
                    fibers[i].state = FiberState::Ready;
                    waiting.push_back(i);
                }
            order(waiting);
            for (unsigned i : waiting) ready.push(i);
            at_barrier = 0;
            continue;
        }
        error = describe_deadlock();
        return CudaErrorLaunchFailedCode;
    }
}

// A lane reached a warp collective: join (or open) the group of its mask; complete it when every named lane is in.
bool BlockRunner::arrive(Fiber& f) {
    const unsigned warp = f.ctx.warp, lane = f.ctx.lane, base = warp * WarpSize;
    const unsigned lanes_in_warp = std::min(WarpSize, thread_count - base);
    const unsigned existing = lanes_in_warp == 32 ? 0xffffffffu : ((1u << lanes_in_warp) - 1);
    const char* name = collective_name(f.op, f.kind);
    char b[512];
    if (!(f.mask & (1u << lane))) {
        snprintf(b, sizeof b, ": calls %s with mask %s, which does not name its own lane %u", name, hex(f.mask).c_str(), lane);
        error = where(f) + b;
        return false;
    }
    if (f.mask & ~existing) {
        snprintf(b, sizeof b, ": calls %s with mask %s, naming lanes past the block's %u threads", name, hex(f.mask).c_str(), thread_count);
        error = where(f) + b;
        return false;
    }
    if (const unsigned gone = f.mask & exited_lanes[warp]) {
        snprintf(b, sizeof b, ": calls %s with mask %s, but lane %u (named in the mask) has exited: every named lane must reach the same collective (undefined on a GPU)",
                 name, hex(f.mask).c_str(), unsigned(__builtin_ctz(gone)));
        error = where(f) + b;
        return false;
    }
    auto& groups = warp_groups[warp];
    size_t index = groups.size();
    for (size_t g = 0; g < groups.size(); g++) {
        if (groups[g].mask == f.mask) { index = g; continue; }
        if (groups[g].arrived & f.mask) {
            snprintf(b, sizeof b, ": calls %s with mask %s while lanes %s, named in it, wait in %s with mask %s: the lanes are not converged",
                     name, hex(f.mask).c_str(), hex(groups[g].arrived & f.mask).c_str(), collective_name(groups[g].op, groups[g].kind), hex(groups[g].mask).c_str());
            error = where(f) + b;
            return false;
        }
    }
    if (index == groups.size()) groups.push_back(WarpGroup{f.op, f.kind, f.mask, 0});
    WarpGroup& g = groups[index];
    if (g.op != f.op || g.kind != f.kind) {
        snprintf(b, sizeof b, ": calls %s with mask %s while lanes %s wait in %s with the same mask: the lanes are not converged",
                 name, hex(f.mask).c_str(), hex(g.arrived).c_str(), collective_name(g.op, g.kind));
        error = where(f) + b;
        return false;
    }
    g.arrived |= 1u << lane;
    if (g.arrived == g.mask) complete(groups, index, warp);
    return true;
}

void BlockRunner::complete(std::vector<WarpGroup>& groups, size_t index, unsigned warp) {
    const WarpGroup g = groups[index];
    groups.erase(groups.begin() + index);
    const unsigned base = warp * WarpSize;
    unsigned ballot = 0;
    if (g.op == Collective::Ballot)
        for (unsigned l = 0; l < WarpSize; l++)
            if ((g.mask & (1u << l)) && fibers[base + l].predicate) ballot |= 1u << l;
    unsigned released[WarpSize], released_count = 0;
    for (unsigned l = 0; l < WarpSize; l++) {
        if (!(g.mask & (1u << l))) continue;
        Fiber& f = fibers[base + l];
        if (g.op == Collective::Ballot) f.result = ballot;
        if (g.op == Collective::Shuffle) {
            const unsigned width = unsigned(f.width), segment = l & ~(width - 1), within = l & (width - 1);
            long source = l;
            switch (g.kind) {
                case ShuffleKind::Index: source = segment + (unsigned(f.operand) & (width - 1)); break;
                case ShuffleKind::Up: source = long(within) - f.operand >= 0 ? long(l) - f.operand : long(l); break;
                case ShuffleKind::Down: source = long(within) + f.operand < long(width) ? long(l) + f.operand : long(l); break;
                case ShuffleKind::Xor: {
                    const long x = long(l ^ unsigned(f.operand));
                    source = x >= long(segment + width) ? long(l) : x;  // later groups of `width` lanes are out of reach
                    break;
                }
            }
            if (source < 0 || source >= 32 || !(g.mask & (1u << source))) {
                // Reading a lane the mask does not name is undefined on a GPU: make it loud (NaN/-1 bits).
                f.result = ~uint64_t(0);
            } else {
                f.result = fibers[base + source].value;
            }
        }
        f.state = FiberState::Ready;
        released[released_count++] = base + l;
    }
    order(released, released_count);
    for (unsigned i = 0; i < released_count; i++) ready.push(released[i]);
}

// A lane exited: any collective that names it can never complete.
bool BlockRunner::exited(Fiber& f) {
    const unsigned lane = f.ctx.lane;
    for (const WarpGroup& g : warp_groups[f.ctx.warp])
        if (g.mask & (1u << lane)) {
            char b[512];
            snprintf(b, sizeof b, ": exited while lanes %s of its warp wait for it in %s with mask %s (every named lane must reach the collective)",
                     hex(g.arrived).c_str(), collective_name(g.op, g.kind), hex(g.mask).c_str());
            error = where(f) + b;
            return false;
        }
    return true;
}

std::string BlockRunner::describe_deadlock() {
    std::string text = "kernel " + std::string(launch->kernel->name) + ", block (" + std::to_string(block.block_idx.x) + "," +
                       std::to_string(block.block_idx.y) + "," + std::to_string(block.block_idx.z) + ") cannot go on: ";
    unsigned barrier = 0, exited_count = 0;
    for (unsigned i = 0; i < thread_count; i++) {
        if (fibers[i].state == FiberState::AtBarrier) barrier++;
        if (fibers[i].state == FiberState::Exited) exited_count++;
    }
    text += std::to_string(barrier) + " threads wait at __syncthreads, " + std::to_string(exited_count) + " exited";
    for (size_t w = 0; w < warp_groups.size(); w++)
        for (const WarpGroup& g : warp_groups[w]) {
            const unsigned missing = g.mask & ~g.arrived;
            unsigned first = __builtin_ctz(missing);
            const Fiber& m = fibers[w * WarpSize + first];
            text += "; warp " + std::to_string(w) + ": lanes " + hex(g.arrived) + " wait in " + collective_name(g.op, g.kind) +
                    " (mask " + hex(g.mask) + ") but lane " + std::to_string(first) +
                    (m.state == FiberState::AtBarrier ? " waits at __syncthreads" : " waits in another collective") +
                    " (a barrier or collective that not every thread reaches)";
        }
    return text;
}

}  // namespace blocks

// ---- device_runtime.h: the calls kernels make, on the running fiber --------------------------------------------

using namespace blocks;

namespace {
BlockRunner& active() {
    BlockRunner* r = active_runner;
    if (r == nullptr) {
        fprintf(stderr, "CUDA emulator: a device function was called outside a kernel\n");
        abort();
    }
    return *r;
}
}  // namespace

void sync_threads() {
    BlockRunner& r = active();
    Fiber* f = r.running();
    f->state = FiberState::AtBarrier;
    r.yield(f);
}

static uint64_t warp_collective(Collective op, ShuffleKind kind, unsigned mask, uint64_t value, int operand, int width, bool predicate) {
    BlockRunner& r = active();
    Fiber* f = r.running();
    f->op = op;
    f->kind = kind;
    f->mask = mask;
    f->value = value;
    f->operand = operand;
    f->width = width;
    f->predicate = predicate;
    f->state = FiberState::AtWarp;
    r.yield(f);
    return f->result;
}

void sync_warp(unsigned mask) { warp_collective(Collective::SyncWarp, ShuffleKind::Index, mask, 0, 0, 32, false); }

uint64_t shuffle(ShuffleKind kind, unsigned mask, uint64_t value, int operand, int width) {
    if (width <= 0 || width > 32 || (width & (width - 1)) != 0) trap("shuffle width must be a power of two ≤ 32");
    return warp_collective(Collective::Shuffle, kind, mask, value, operand, width, false);
}

unsigned ballot(unsigned mask, bool predicate) {
    return unsigned(warp_collective(Collective::Ballot, ShuffleKind::Index, mask, 0, 0, 32, predicate));
}

void trap(const char* what) {
    BlockRunner& r = active();
    Fiber* f = r.running();
    r.trap_message = what;
    f->state = FiberState::Trapped;
    r.yield(f);
    __builtin_trap();
}

void device_printf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
}

}  // namespace emu
