#include "shared_segment.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>

#include "nccl_types.h"

namespace emu::nccl {
namespace {

constexpr uint32_t kMagic = 0x4e43434cu;  // "NCCL"
constexpr size_t kControlBytes = 64;
constexpr size_t kRecordBytes = 256;
static_assert(sizeof(RankRecord) <= kRecordBytes, "a rank record fits its stride");
static_assert(sizeof(ControlBlock) <= kControlBytes, "the control block fits its stride");

size_t data_offset(int world) {
    size_t header = kControlBytes + kRecordBytes * size_t(world);
    return (header + 4095) / 4096 * 4096;
}

// Whether a peer process is gone: no such process, or a zombie its parent has not yet reaped.
bool process_gone(int pid) {
    if (kill(pid, 0) != 0) return errno == ESRCH;
    char path[64], text[256] = {};
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE* file = std::fopen(path, "r");
    if (!file) return false;
    size_t got = std::fread(text, 1, sizeof text - 1, file);
    std::fclose(file);
    const char* end = static_cast<const char*>(std::memchr(text, ')', got));  // the state follows "(name)"
    return end && end[1] == ' ' && end[2] == 'Z';
}

uint32_t load(const uint32_t* word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }

// Shared (not FUTEX_PRIVATE) futex calls, since the waiters may be in other processes.
void futex_wait(const uint32_t* word, uint32_t seen, long nanoseconds) {
    timespec timeout{0, nanoseconds};
    syscall(SYS_futex, const_cast<uint32_t*>(word), FUTEX_WAIT, seen, &timeout, nullptr, 0);
}

void futex_wake(uint32_t* word) { syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

}  // namespace

size_t segment_bytes(int world) { return data_offset(world) + Segment::kSlotBytes * size_t(world); }

Segment::~Segment() {
    if (base_) munmap(base_, bytes_);
}

int Segment::open(const std::string& name, int world, std::string& error) {
    world_ = world;
    bytes_ = segment_bytes(world);
    name_ = name;
    shared_ = !name.empty();
    if (!shared_) {
        void* memory = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) { error = std::string("mmap: ") + std::strerror(errno); return SystemError; }
        base_ = static_cast<unsigned char*>(memory);
        control().magic = kMagic;
        return Success;
    }
    // Every rank creates-or-opens and sizes the segment the same way; fresh shared memory reads as zeros, which is the
    // control block's initial state, so no rank has to go first.
    int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
    if (fd < 0) { error = "shm_open(" + name + "): " + std::strerror(errno); return SystemError; }
    struct stat info {};
    if (fstat(fd, &info) != 0 || (info.st_size != 0 && size_t(info.st_size) != bytes_)) {
        close(fd);
        error = "shared segment " + name + " was made for another world size (" + std::to_string(info.st_size) +
                " bytes, this rank needs " + std::to_string(bytes_) + ")";
        return InvalidUsage;
    }
    if (info.st_size == 0 && ftruncate(fd, off_t(bytes_)) != 0) {
        error = "ftruncate(" + name + "): " + std::strerror(errno);
        close(fd);
        return SystemError;
    }
    void* memory = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (memory == MAP_FAILED) { error = "mmap(" + name + "): " + std::strerror(errno); return SystemError; }
    base_ = static_cast<unsigned char*>(memory);
    return Success;
}

void Segment::unlink() {
    if (shared_) shm_unlink(name_.c_str());  // ENOENT: another rank already did
}

RankRecord& Segment::record(int rank) {
    return *reinterpret_cast<RankRecord*>(base_ + kControlBytes + kRecordBytes * size_t(rank));
}

unsigned char* Segment::slot(int rank) { return base_ + data_offset(world_) + kSlotBytes * size_t(rank); }

int Segment::wait_change(const uint32_t* word, uint32_t seen, const WaitControl& wait, std::string& why) {
    auto start = std::chrono::steady_clock::now();
    auto last_peer_check = start;
    for (int spin = 0;; ++spin) {
        if (load(word) != seen) return Success;
        if (wait.aborted && wait.aborted->load()) { why = "the communicator was aborted (ncclCommAbort)"; return InvalidUsage; }
        if (load(&control().aborted)) {
            why = "rank " + std::to_string(control().aborted_by) + " aborted the communicator";
            return RemoteError;
        }
        if (spin < 64) continue;  // a short spin: the peer is often about to arrive
        auto now = std::chrono::steady_clock::now();
        if (shared_ && now - last_peer_check > std::chrono::milliseconds(500)) {
            last_peer_check = now;
            for (int r = 0; r < world_; ++r) {
                int pid = record(r).pid;
                if (load(&record(r).claimed) && pid > 0 && process_gone(pid)) {
                    why = "rank " + std::to_string(r) + " (process " + std::to_string(pid) + ") has exited";
                    return RemoteError;
                }
            }
        }
        if (wait.timeout_s > 0 && std::chrono::duration<double>(now - start).count() > wait.timeout_s) {
            why = "timed out after " + std::to_string(int(wait.timeout_s)) + " s waiting for the other ranks";
            return SystemError;
        }
        // A bounded sleep, so that an abort in this process (which cannot always reach the futex) is seen soon.
        futex_wait(word, seen, 20 * 1000 * 1000);
    }
}

int Segment::barrier(const WaitControl& wait, std::string& why) {
    ControlBlock& c = control();
    uint32_t generation = load(&c.generation);
    if (__atomic_add_fetch(&c.arrived, 1, __ATOMIC_ACQ_REL) == uint32_t(world_)) {
        __atomic_store_n(&c.arrived, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&c.generation, 1, __ATOMIC_RELEASE);
        if (shared_) futex_wake(&c.generation);
        return Success;
    }
    return wait_change(&c.generation, generation, wait, why);
}

void Segment::wake_all() {
    if (!base_) return;
    futex_wake(&control().generation);
    futex_wake(&control().joined);
}

void Segment::abort(int by_rank) {
    if (!base_) return;
    control().aborted_by = by_rank;
    __atomic_store_n(&control().aborted, 1, __ATOMIC_RELEASE);
    wake_all();
}

}  // namespace emu::nccl
