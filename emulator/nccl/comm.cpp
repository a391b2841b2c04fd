#include "comm.h"

#include <chrono>
#include <cstdio>

#include "nccl_types.h"

namespace emu::nccl {

uint64_t Comm::take_ticket() {
    std::lock_guard<std::mutex> guard(lock);
    return next_ticket++;
}

void Comm::abandon(uint64_t ticket) {
    std::lock_guard<std::mutex> guard(lock);
    abandoned.insert(ticket);
    while (abandoned.erase(turn)) ++turn;
    turn_changed.notify_all();
}

bool Comm::wait_turn(uint64_t ticket) {
    std::unique_lock<std::mutex> guard(lock);
    while (ticket > turn) {
        if (aborted.load()) return false;
        turn_changed.wait_for(guard, std::chrono::milliseconds(20));
    }
    return !aborted.load();
}

void Comm::finish_turn(uint64_t ticket) {
    std::lock_guard<std::mutex> guard(lock);
    if (ticket >= turn) turn = ticket + 1;
    while (abandoned.erase(turn)) ++turn;
    turn_changed.notify_all();
}

void Comm::fail(int result, const std::string& why) {
    int expected = Success;
    async_error.compare_exchange_strong(expected, result);
    std::lock_guard<std::mutex> guard(error_lock);
    last_error = why;
    std::fprintf(stderr, "nccl emulator: rank %d of %d: %s\n", rank, world, why.c_str());
}

}  // namespace emu::nccl
