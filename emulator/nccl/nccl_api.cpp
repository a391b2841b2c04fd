// NCCL (nccl.h): unique ids, communicators (init, split, destroy, abort) and the collectives, queued on the caller's
// stream. Ranks are processes on one machine, each one emulated GPU, joined through a POSIX shared-memory segment
// named in the unique id.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "../device/environment.h"
#include "../driver/host_runtime.h"
#include "collectives.h"
#include "comm.h"
#include "nccl_types.h"

namespace emu::nccl {
namespace {

// ncclUniqueId: 128 bytes, passed by value to ncclCommInitRank.
struct UniqueId {
    char bytes[128];
};
constexpr char kIdMagic[8] = {'E', 'M', 'U', 'N', 'C', 'C', 'L', '1'};

std::mutex comms_lock;
std::unordered_map<Comm*, std::shared_ptr<Comm>> comms;
thread_local int group_depth = 0;

int refuse(const char* call, int result, const std::string& why) {
    std::fprintf(stderr, "nccl emulator: %s: %s\n", call, why.c_str());
    return result;
}

std::shared_ptr<Comm> find(void* handle) {
    std::lock_guard<std::mutex> guard(comms_lock);
    auto it = comms.find(static_cast<Comm*>(handle));
    return it == comms.end() ? nullptr : it->second;
}

std::shared_ptr<Comm> take(void* handle) {
    std::lock_guard<std::mutex> guard(comms_lock);
    auto it = comms.find(static_cast<Comm*>(handle));
    if (it == comms.end()) return nullptr;
    auto comm = it->second;
    comms.erase(it);
    return comm;
}

// Joins `rank` to the segment `name` shared by `world` ranks and checks that no two ranks claim one device.
int join(const char* call, const std::string& name, int world, int rank, std::shared_ptr<Comm>& out) {
    auto comm = std::make_shared<Comm>();
    comm->name = world > 1 ? name : "";
    comm->rank = rank;
    comm->world = world;
    comm->device = emu::current_device();
    comm->timeout_s = environment_number("ENGINE_NCCL_EMULATOR_TIMEOUT_S", 0, -HUGE_VAL);
    std::string error;
    int result = comm->segment.open(comm->name, world, error);
    if (result != Success) return refuse(call, result, error);
    if (world > 1) {
        Segment& segment = comm->segment;
        RankRecord& mine = segment.record(rank);
        if (__atomic_exchange_n(&mine.claimed, 1u, __ATOMIC_ACQ_REL) != 0)
            return refuse(call, InvalidUsage, "rank " + std::to_string(rank) + " joined this unique id twice");
        mine.pid = int(getpid());
        mine.device = comm->device;
        mine.world = world;
        uint32_t joined = __atomic_add_fetch(&segment.control().joined, 1u, __ATOMIC_ACQ_REL);
        segment.wake_all();
        // Initialisation is not watched by the engine's collective watchdog, so it carries its own time limit.
        WaitControl wait{&comm->aborted, environment_number("ENGINE_NCCL_EMULATOR_INIT_TIMEOUT_S", 300, -HUGE_VAL)};
        while (joined < uint32_t(world)) {
            result = segment.wait_change(&segment.control().joined, joined, wait, error);
            if (result != Success) {
                segment.unlink();
                return refuse(call, result, "waiting for " + std::to_string(world) + " ranks: " + error);
            }
            joined = __atomic_load_n(&segment.control().joined, __ATOMIC_ACQUIRE);
        }
        // Every rank has mapped the segment by now, so its name can go: nothing is left behind in /dev/shm.
        if (rank == 0) segment.unlink();
        for (int r = 0; r < world; ++r) {
            const RankRecord& peer = segment.record(r);
            if (peer.world != world)
                return refuse(call, InvalidUsage, "rank " + std::to_string(r) + " joined with world size " + std::to_string(peer.world) + ", this rank with " + std::to_string(world));
            if (r != rank && comm->device >= 0 && peer.device == comm->device)
                return refuse(call, InvalidUsage, "ranks " + std::to_string(std::min(r, rank)) + " and " + std::to_string(std::max(r, rank)) +
                                                      " both use emulated device " + std::to_string(comm->device) + " (one GPU per rank, as NCCL requires)");
        }
    }
    out = comm;
    std::lock_guard<std::mutex> guard(comms_lock);
    comms[comm.get()] = comm;
    return Success;
}

int enqueue_collective(void* handle, const Collective& c, void* stream) {
    const char* call = kind_name(c.kind);
    auto comm = find(handle);
    if (!comm) return refuse(call, InvalidArgument, "unknown or destroyed communicator");
    if (!valid_type(c.type)) return refuse(call, InvalidArgument, "unknown data type " + std::to_string(c.type));
    if ((c.kind == KindAllReduce || c.kind == KindReduceScatter) && !valid_op(c.op))
        return refuse(call, InvalidArgument, "unknown reduction " + std::to_string(c.op));
    if (c.kind == KindBroadcast && (c.root < 0 || c.root >= comm->world))
        return refuse(call, InvalidArgument, "root " + std::to_string(c.root) + " outside 0.." + std::to_string(comm->world - 1));
    if (c.count > 0 && (!c.receive || (!c.send && (c.kind != KindBroadcast || comm->rank == c.root))))
        return refuse(call, InvalidArgument, "null buffer");
    if (comm->aborted) return refuse(call, InvalidUsage, "the communicator was aborted");
    if (c.count == 0) return Success;  // as NCCL: nothing to move, nothing launched
    uint64_t ticket = comm->take_ticket();
    int queued = emu::enqueue(stream, call, [comm, c, ticket](std::string& message) {
        if (!comm->wait_turn(ticket)) {
            comm->finish_turn(ticket);
            message = std::string(kind_name(c.kind)) + ": the communicator was aborted";
            return int(CudaErrorLaunchFailed);
        }
        int result = run_collective(*comm, c, message);
        comm->finish_turn(ticket);
        return result;
    });
    if (queued != CudaSuccess) {
        comm->abandon(ticket);
        return refuse(call, UnhandledCudaError, "the stream refused the work (CUresult " + std::to_string(queued) + ")");
    }
    return Success;
}

}  // namespace
}  // namespace emu::nccl

using namespace emu::nccl;

EMU_EXPORT int ncclGetVersion(int* version) {
    if (!version) return refuse("ncclGetVersion", InvalidArgument, "version is null");
    *version = kVersion;
    return Success;
}

EMU_EXPORT const char* ncclGetErrorString(int result) {
    switch (result) {
        case Success: return "no error";
        case UnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case SystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case InternalError: return "internal error - please report this issue to the NCCL developers";
        case InvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case InvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case RemoteError: return "remote process exited or there was a network error";
        case InProgress: return "NCCL operation in progress";
        default: return "unknown result code";
    }
}

EMU_EXPORT const char* ncclGetLastError(void* handle) {
    thread_local std::string text;
    auto comm = find(handle);
    if (!comm) return "";
    std::lock_guard<std::mutex> guard(comm->error_lock);
    text = comm->last_error;
    return text.c_str();
}

EMU_EXPORT int ncclGetUniqueId(UniqueId* id) {
    if (!id) return refuse("ncclGetUniqueId", InvalidArgument, "id is null");
    std::memset(id->bytes, 0, sizeof id->bytes);
    std::memcpy(id->bytes, kIdMagic, sizeof kIdMagic);
    std::random_device random;
    unsigned long long salt = (unsigned long long)random() << 32 | random();
    std::snprintf(id->bytes + sizeof kIdMagic, sizeof id->bytes - sizeof kIdMagic, "/engine-nccl-%d-%016llx", int(getpid()), salt);
    return Success;
}

EMU_EXPORT int ncclCommInitRank(void** out, int world, UniqueId id, int rank) {
    const char* call = "ncclCommInitRank";
    if (!out) return refuse(call, InvalidArgument, "comm is null");
    *out = nullptr;
    if (world < 1 || rank < 0 || rank >= world)
        return refuse(call, InvalidArgument, "rank " + std::to_string(rank) + " of world size " + std::to_string(world));
    if (std::memcmp(id.bytes, kIdMagic, sizeof kIdMagic) != 0)
        return refuse(call, InvalidArgument, "the unique id was not made by this emulator's ncclGetUniqueId");
    std::string name(id.bytes + sizeof kIdMagic, strnlen(id.bytes + sizeof kIdMagic, sizeof id.bytes - sizeof kIdMagic));
    std::shared_ptr<Comm> comm;
    int result = join(call, name, world, rank, comm);
    if (result == Success) *out = comm.get();
    return result;
}

EMU_EXPORT int ncclCommSplit(void* handle, int color, int key, void** out, void* config) {
    (void)config;  // the parent's settings: the emulator has none to vary
    const char* call = "ncclCommSplit";
    if (!out) return refuse(call, InvalidArgument, "newcomm is null");
    *out = nullptr;
    auto parent = find(handle);
    if (!parent) return refuse(call, InvalidArgument, "unknown or destroyed communicator");
    if (color < -1) return refuse(call, InvalidArgument, "color " + std::to_string(color) + " (NCCL_SPLIT_NOCOLOR is -1)");
    struct Member { int color, key, rank; };
    Member mine{color, key, parent->rank};
    std::vector<Member> members(size_t(parent->world));
    // A split is collective over the parent and takes its turn among the parent's queued collectives, which the
    // host therefore waits for, as NCCL's split does.
    uint64_t ticket = parent->take_ticket();
    if (!parent->wait_turn(ticket)) {
        parent->finish_turn(ticket);
        return refuse(call, InvalidUsage, "the communicator was aborted");
    }
    std::string why;
    int result = exchange(*parent, &mine, sizeof mine, members.data(), why);
    int split = parent->splits++;
    parent->finish_turn(ticket);
    if (result != Success) return refuse(call, result, why);
    if (color == -1) return Success;
    std::vector<Member> group;
    for (const Member& m : members)
        if (m.color == color) group.push_back(m);
    std::stable_sort(group.begin(), group.end(), [](const Member& a, const Member& b) { return a.key != b.key ? a.key < b.key : a.rank < b.rank; });
    int new_rank = int(std::find_if(group.begin(), group.end(), [&](const Member& m) { return m.rank == parent->rank; }) - group.begin());
    std::string name = parent->name + "s" + std::to_string(split) + "c" + std::to_string(color);
    std::shared_ptr<Comm> child;
    result = join(call, name, int(group.size()), new_rank, child);
    if (result == Success) *out = child.get();
    return result;
}

EMU_EXPORT int ncclCommDestroy(void* handle) {
    // Queued collectives hold the communicator until they have run; only the handle ends here.
    if (!take(handle)) return refuse("ncclCommDestroy", InvalidArgument, "unknown or destroyed communicator");
    return Success;
}

EMU_EXPORT int ncclCommAbort(void* handle) {
    auto comm = take(handle);
    if (!comm) return handle ? refuse("ncclCommAbort", InvalidArgument, "unknown or destroyed communicator") : Success;
    comm->aborted = true;
    // The peers' waits end too (with ncclRemoteError), rather than each waiting for its own watchdog.
    if (comm->world > 1) comm->segment.abort(comm->rank);
    std::lock_guard<std::mutex> guard(comm->lock);
    comm->turn_changed.notify_all();
    return Success;
}

EMU_EXPORT int ncclCommCount(void* handle, int* count) {
    auto comm = find(handle);
    if (!comm || !count) return refuse("ncclCommCount", InvalidArgument, "unknown communicator or null count");
    *count = comm->world;
    return Success;
}

EMU_EXPORT int ncclCommUserRank(void* handle, int* rank) {
    auto comm = find(handle);
    if (!comm || !rank) return refuse("ncclCommUserRank", InvalidArgument, "unknown communicator or null rank");
    *rank = comm->rank;
    return Success;
}

EMU_EXPORT int ncclCommGetAsyncError(void* handle, int* error) {
    auto comm = find(handle);
    if (!comm || !error) return refuse("ncclCommGetAsyncError", InvalidArgument, "unknown communicator or null error");
    *error = comm->async_error.load();
    return Success;
}

EMU_EXPORT int ncclAllReduce(const void* send, void* receive, size_t count, int type, int op, void* comm, void* stream) {
    return enqueue_collective(comm, Collective{KindAllReduce, send, receive, count, type, op, 0}, stream);
}

EMU_EXPORT int ncclAllGather(const void* send, void* receive, size_t count, int type, void* comm, void* stream) {
    return enqueue_collective(comm, Collective{KindAllGather, send, receive, count, type, Sum, 0}, stream);
}

EMU_EXPORT int ncclReduceScatter(const void* send, void* receive, size_t count, int type, int op, void* comm, void* stream) {
    return enqueue_collective(comm, Collective{KindReduceScatter, send, receive, count, type, op, 0}, stream);
}

EMU_EXPORT int ncclBroadcast(const void* send, void* receive, size_t count, int type, int root, void* comm, void* stream) {
    return enqueue_collective(comm, Collective{KindBroadcast, send, receive, count, type, Sum, root}, stream);
}

// Collectives are queued one by one whether grouped or not: each rank still queues them in the same order, which is
// all the shared-memory protocol needs. The depth is kept so that unbalanced calls are refused as NCCL refuses them.
EMU_EXPORT int ncclGroupStart() {
    ++group_depth;
    return Success;
}

EMU_EXPORT int ncclGroupEnd() {
    if (group_depth == 0) return refuse("ncclGroupEnd", InvalidUsage, "ncclGroupEnd without ncclGroupStart");
    --group_depth;
    return Success;
}
