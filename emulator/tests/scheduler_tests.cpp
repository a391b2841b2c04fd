// Checks of the fiber scheduler alone (no driver, no shim): barriers, warp collectives, the errors it reports
// for code a GPU would run into undefined behaviour with, and faults caught in dynamic shared memory.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../device/scheduler.h"

using namespace emu;

#include "check.h"

static float shared_scratch_storage[32];

static float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        uint32_t bits;
        memcpy(&bits, &v, 4);
        uint64_t other = shuffle(ShuffleKind::Xor, 0xffffffffu, bits, offset, 32);
        uint32_t o32 = uint32_t(other);
        float o;
        memcpy(&o, &o32, 4);
        v += o;
    }
    return v;
}

// out[block] = Σ in[block·n + t] over the block's threads, with a block reduction through shared memory.
extern "C" void block_sum_kernel(const float* in, float* out, int skip_second_barrier) {
    static thread_local float scratch[32];
    const unsigned t = current_thread->linear, lane = current_thread->lane, warp = current_thread->warp;
    const unsigned n = current_block->block_dim.x, warps = n / 32;
    float v = in[current_block->block_idx.x * n + t];
    v = warp_sum(v);
    sync_threads();
    if (lane == 0) scratch[warp] = v;
    if (!skip_second_barrier) sync_threads();
    v = lane < warps ? scratch[lane] : 0.0f;
    v = warp_sum(v);
    if (t == 0) out[current_block->block_idx.x] = v;
    if (t == 0) scratch[0] = NAN;  // so a missing barrier reads a poisoned value next time
    (void)shared_scratch_storage;
}

extern "C" void diverged_shuffle_kernel(float* out) {
    if (current_thread->lane < 16) out[current_thread->linear] = warp_sum(1.0f);
}

// Half of warp 0 waits at the block barrier while the other half waits for it in __syncwarp: a hang on a GPU.
extern "C" void half_barrier_kernel(float* out) {
    if (current_thread->linear < 16) sync_threads();
    else sync_warp(0xffffffffu);
    out[current_thread->linear] = 1;
}

extern "C" void shared_overrun_kernel(int count) {
    float* shared = reinterpret_cast<float*>(current_block->dynamic_shared);
    shared[current_thread->linear + count] = 1.0f;  // thread 0 writes element `count`: one past the end
}

extern "C" void trap_kernel(int at) {
    if (int(current_thread->linear) == at) trap("check failed");
}

extern "C" void shuffle_kinds_kernel(int* out) {
    const int lane = int(current_thread->lane);
    out[lane * 4 + 0] = int(shuffle(ShuffleKind::Up, 0xffffffffu, uint64_t(lane), 3, 8));
    out[lane * 4 + 1] = int(shuffle(ShuffleKind::Down, 0xffffffffu, uint64_t(lane), 5, 32));
    out[lane * 4 + 2] = int(shuffle(ShuffleKind::Index, 0xffffffffu, uint64_t(lane), 7, 16));
    out[lane * 4 + 3] = int(ballot(0xffffffffu, lane % 3 == 0));
}

static const KernelEntry entries[] = {
    EMU_KERNEL_ENTRY(block_sum_kernel), EMU_KERNEL_ENTRY(diverged_shuffle_kernel), EMU_KERNEL_ENTRY(half_barrier_kernel),
    EMU_KERNEL_ENTRY(shared_overrun_kernel), EMU_KERNEL_ENTRY(trap_kernel), EMU_KERNEL_ENTRY(shuffle_kinds_kernel),
};
// The scheduler test links no kernel table of its own.
namespace emu {
const KernelEntry kernel_table[] = {EMU_KERNEL_ENTRY(block_sum_kernel)};
const size_t kernel_table_size = 1;
}  // namespace emu

template <typename... Args>
static int launch(int entry, Dim3 grid, Dim3 block, size_t shared, std::string& message, ScheduleOrder order, Args... args) {
    void* params[] = {&args...};
    GridLaunch l;
    l.kernel = &entries[entry];
    l.grid = grid;
    l.block = block;
    l.dynamic_shared_bytes = shared;
    l.parameters = params;
    l.schedule.order = order;
    l.schedule.seed = 7;
    return run_grid(l, message);
}

int main() {
    const int blocks = 5, threads = 256;
    std::vector<float> in(blocks * threads), out(blocks);
    for (size_t i = 0; i < in.size(); i++) in[i] = float(i % 17) - 3.0f;
    for (ScheduleOrder order : {ScheduleOrder::Forward, ScheduleOrder::Reverse, ScheduleOrder::Shuffled}) {
        std::string message;
        int code = launch(0, Dim3{blocks, 1, 1}, Dim3{threads, 1, 1}, 0, message, order, (const float*)in.data(), out.data(), 0);
        CHECK(code == 0, "block_sum: %d %s", code, message.c_str());
        for (int b = 0; b < blocks; b++) {
            double expected = 0;
            for (int t = 0; t < threads; t++) expected += in[b * threads + t];
            CHECK(out[b] == float(expected), "block_sum order %d block %d: %g vs %g", int(order), b, out[b], expected);
        }
    }
    // Without the second barrier, some order reads scratch before every warp wrote it.
    bool differs = false;
    for (ScheduleOrder order : {ScheduleOrder::Forward, ScheduleOrder::Reverse, ScheduleOrder::Shuffled}) {
        std::string message;
        launch(0, Dim3{blocks, 1, 1}, Dim3{threads, 1, 1}, 0, message, order, (const float*)in.data(), out.data(), 1);
        for (int b = 0; b < blocks; b++) {
            double expected = 0;
            for (int t = 0; t < threads; t++) expected += in[b * threads + t];
            if (!(out[b] == float(expected))) differs = true;
        }
    }
    CHECK(differs, "a missing __syncthreads went unnoticed under every order");

    std::string message;
    std::vector<float> buffer(256);
    int code = launch(1, Dim3{1, 1, 1}, Dim3{32, 1, 1}, 0, message, ScheduleOrder::Forward, buffer.data());
    CHECK(code == 719 && message.find("exited") != std::string::npos, "diverged shuffle: %d %s", code, message.c_str());
    printf("diverged shuffle -> %s\n", message.c_str());

    code = launch(2, Dim3{1, 1, 1}, Dim3{128, 1, 1}, 0, message, ScheduleOrder::Forward, buffer.data());
    CHECK(code == 719 && message.find("__syncthreads") != std::string::npos, "half barrier: %d %s", code, message.c_str());
    printf("half barrier -> %s\n", message.c_str());

    code = launch(3, Dim3{1, 1, 1}, Dim3{32, 1, 1}, 64 * sizeof(float), message, ScheduleOrder::Forward, 64);
    CHECK(code == 700 && message.find("shared memory") != std::string::npos, "shared overrun: %d %s", code, message.c_str());
    printf("shared overrun -> %s\n", message.c_str());
    code = launch(3, Dim3{1, 1, 1}, Dim3{32, 1, 1}, 100 * sizeof(float), message, ScheduleOrder::Forward, 63);
    CHECK(code == 0, "in-bounds shared write: %d %s", code, message.c_str());

    code = launch(4, Dim3{2, 1, 1}, Dim3{64, 1, 1}, 0, message, ScheduleOrder::Forward, 40);
    CHECK(code == 715 && message.find("thread (40,0,0)") != std::string::npos, "trap: %d %s", code, message.c_str());

    std::vector<int> kinds(32 * 4);
    code = launch(5, Dim3{1, 1, 1}, Dim3{32, 1, 1}, 0, message, ScheduleOrder::Reverse, kinds.data());
    CHECK(code == 0, "shuffle kinds: %d %s", code, message.c_str());
    unsigned ballot_expected = 0;
    for (int l = 0; l < 32; l += 3) ballot_expected |= 1u << l;
    for (int l = 0; l < 32; l++) {
        CHECK(kinds[l * 4 + 0] == ((l % 8) >= 3 ? l - 3 : l), "up lane %d: %d", l, kinds[l * 4 + 0]);
        CHECK(kinds[l * 4 + 1] == (l + 5 < 32 ? l + 5 : l), "down lane %d: %d", l, kinds[l * 4 + 1]);
        CHECK(kinds[l * 4 + 2] == (l & ~15) + 7, "index lane %d: %d", l, kinds[l * 4 + 2]);
        CHECK(unsigned(kinds[l * 4 + 3]) == ballot_expected, "ballot lane %d", l);
    }
    // the runner still works after faults
    code = launch(0, Dim3{blocks, 1, 1}, Dim3{threads, 1, 1}, 0, message, ScheduleOrder::Forward, (const float*)in.data(), out.data(), 0);
    CHECK(code == 0, "after faults: %d %s", code, message.c_str());
    printf("%s\n", failures ? "scheduler tests FAILED" : "scheduler tests passed");
    return failures ? 1 : 0;
}
