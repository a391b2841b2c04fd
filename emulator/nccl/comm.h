// One rank's communicator: its place in the world, the shared segment, and the order in which its collectives run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "shared_segment.h"

namespace emu::nccl {

struct Comm {
    std::string name;  // the shared segment's name; empty for a world of one
    int rank = 0, world = 1, device = -1;
    Segment segment;
    std::atomic<bool> aborted{false};
    std::atomic<bool> broken{false};  // a collective failed midway: the segment's protocol state is unknown
    std::atomic<int> async_error{0};
    double timeout_s = 0;
    int splits = 0;  // how many ncclCommSplit calls this communicator has made, to name the children's segments

    // Collectives run in the order they were issued on the host (as NCCL orders a communicator's launches whatever
    // stream they are queued on), each taking a ticket when called and waiting for its turn when its stream runs it.
    std::mutex lock;
    std::condition_variable turn_changed;
    uint64_t next_ticket = 0, turn = 0;
    std::set<uint64_t> abandoned;  // tickets whose work was never queued
    uint64_t sequence = 0;         // collectives run so far: every rank's count must agree

    std::mutex error_lock;
    std::string last_error;

    WaitControl wait_control() const { return WaitControl{&aborted, timeout_s}; }

    uint64_t take_ticket();
    void abandon(uint64_t ticket);
    // Waits for `ticket`'s turn; false when the communicator is aborted first. A ticket already passed (work replayed
    // from a captured graph) runs at once.
    bool wait_turn(uint64_t ticket);
    void finish_turn(uint64_t ticket);

    void fail(int result, const std::string& why);  // records an asynchronous error, ncclCommGetAsyncError reports it
};

}  // namespace emu::nccl
