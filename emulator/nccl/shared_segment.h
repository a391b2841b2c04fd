// The memory that a communicator's ranks share: a POSIX shared-memory segment when the ranks are processes (each one
// an emulated GPU), or private memory for a world of one. It holds a control block (join count, a generation
// barrier, the abort flag), one record per rank (who joined, which device, the collective it is running) and one data
// slot per rank through which collectives pass their chunks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace emu::nccl {

// What a rank is about to run; every rank compares its peers' with its own before any data moves, so ranks that
// disagree (a different collective, size, type, root) fail with a message instead of exchanging garbage.
struct OpDescriptor {
    uint64_t sequence;
    int32_t kind, type, op, root;
    uint64_t count;
    int32_t failed;  // this rank's own checks refused the call (see RankRecord::failure)
    int32_t reserved;
};

struct RankRecord {
    uint32_t claimed;
    int32_t pid, device, world;
    OpDescriptor op;
    char failure[176];
};

struct ControlBlock {
    uint32_t magic;
    uint32_t joined;
    uint32_t arrived;
    uint32_t generation;  // bumped by the last rank into a barrier; waiters sleep on it (futex)
    uint32_t aborted;     // set by ncclCommAbort in any process: every wait on this segment gives up
    int32_t aborted_by;
};

// How a wait gives up: the local communicator was aborted, the segment was aborted by a peer, a peer process is
// gone, or (when set) too many seconds passed.
struct WaitControl {
    const std::atomic<bool>* aborted = nullptr;
    double timeout_s = 0;  // 0: wait until something above happens
};

class Segment {
public:
    Segment() = default;
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    ~Segment();

    // Opens (creating when first) the named segment for `world` ranks and maps it; a world of one with an empty name
    // gets private memory. Returns an ncclResult_t, `error` saying why on failure.
    int open(const std::string& name, int world, std::string& error);
    void unlink();

    int world() const { return world_; }
    ControlBlock& control() { return *reinterpret_cast<ControlBlock*>(base_); }
    RankRecord& record(int rank);
    unsigned char* slot(int rank);
    static constexpr size_t kSlotBytes = 256 << 10;

    // Waits until every rank has arrived; returns ncclSuccess or the reason it gave up (ncclRemoteError,
    // ncclSystemError on timeout, ncclInvalidUsage after a local abort) with `why` filled.
    int barrier(const WaitControl& control, std::string& why);
    // Waits until `*word` differs from `seen`, under the same rules as barrier.
    int wait_change(const uint32_t* word, uint32_t seen, const WaitControl& control, std::string& why);
    void wake_all();
    void abort(int by_rank);

private:
    unsigned char* base_ = nullptr;
    size_t bytes_ = 0;
    int world_ = 0;
    std::string name_;
    bool shared_ = false;
};

// The segment size for a world, and the process ids to watch while waiting are the ranks' records.
size_t segment_bytes(int world);

}  // namespace emu::nccl
