#include "collectives.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "../driver/host_runtime.h"
#include "nccl_types.h"
#include "reduce.h"

namespace emu::nccl {
namespace {

bool check_buffer(const char* call, const char* operand, const void* address, size_t bytes, std::string& message) {
    if (bytes == 0) return true;
    std::string miss;
    if (emu::check_device_range(reinterpret_cast<uint64_t>(address), bytes, &miss)) return true;
    char text[160];
    std::snprintf(text, sizeof text, "%s: %s buffer [%p, +%zu bytes) is not device memory: ", call, operand, address, bytes);
    message = text + miss;
    return false;
}

// The buffers a collective touches, checked before any rank moves data so that a bad pointer on one rank fails
// every rank's call rather than leaving its peers waiting.
bool check_buffers(const Comm& comm, const Collective& c, std::string& message) {
    const char* call = kind_name(c.kind);
    size_t bytes = c.count * type_bytes(c.type), world = size_t(comm.world);
    switch (c.kind) {
        case KindAllReduce: return check_buffer(call, "send", c.send, bytes, message) && check_buffer(call, "receive", c.receive, bytes, message);
        case KindAllGather: return check_buffer(call, "send", c.send, bytes, message) && check_buffer(call, "receive", c.receive, bytes * world, message);
        case KindReduceScatter: return check_buffer(call, "send", c.send, bytes * world, message) && check_buffer(call, "receive", c.receive, bytes, message);
        case KindBroadcast:
            return (comm.rank != c.root || check_buffer(call, "send", c.send, bytes, message)) && check_buffer(call, "receive", c.receive, bytes, message);
        default: return true;
    }
}

bool same_call(const OpDescriptor& a, const OpDescriptor& b) {
    bool reduces = a.kind == KindAllReduce || a.kind == KindReduceScatter;
    return a.sequence == b.sequence && a.kind == b.kind && a.type == b.type && a.count == b.count &&
           (!reduces || a.op == b.op) && (a.kind != KindBroadcast || a.root == b.root);
}

std::string describe(const OpDescriptor& d) {
    char text[160];
    std::snprintf(text, sizeof text, "collective #%llu %s(count %llu, type %d, op %d, root %d)",
                  (unsigned long long)d.sequence, kind_name(d.kind), (unsigned long long)d.count, d.type, d.op, d.root);
    return text;
}

// A barrier that, when it gives up, marks the communicator unusable (its ranks may now be at different steps).
bool barrier(Comm& comm, std::string& message) {
    std::string why;
    int result = comm.segment.barrier(comm.wait_control(), why);
    if (result == Success) return true;
    comm.broken = true;
    comm.fail(result, why);
    message = why;
    return false;
}

// One round: every rank fills its slot, then (after a barrier) reads what it needs, then waits for every rank to be
// done reading before the slots are reused.
template <typename Fill, typename Use>
bool round(Comm& comm, std::string& message, Fill fill, Use use) {
    fill(comm.segment.slot(comm.rank));
    if (!barrier(comm, message)) return false;
    use();
    return barrier(comm, message);
}

bool move_data(Comm& comm, const Collective& c, std::string& message) {
    const size_t element = type_bytes(c.type), world = size_t(comm.world), slot = Segment::kSlotBytes;
    const auto* send = static_cast<const unsigned char*>(c.send);
    auto* receive = static_cast<unsigned char*>(c.receive);
    std::vector<const void*> inputs(world);
    switch (c.kind) {
        case KindAllReduce: {
            size_t step = slot / element;
            for (size_t done = 0; done < c.count; done += step) {
                size_t n = std::min(step, c.count - done);
                bool ok = round(comm, message, [&](unsigned char* mine) { std::memcpy(mine, send + done * element, n * element); }, [&] {
                    for (size_t r = 0; r < world; ++r) inputs[r] = comm.segment.slot(int(r));
                    reduce(c.type, c.op, inputs.data(), int(world), receive + done * element, n);
                });
                if (!ok) return false;
            }
            return true;
        }
        case KindReduceScatter: {
            // Each round carries the same stretch of every rank's block: block q of a slot goes to rank q.
            size_t step = slot / (element * world);
            for (size_t done = 0; done < c.count; done += step) {
                size_t n = std::min(step, c.count - done);
                bool ok = round(comm, message, [&](unsigned char* mine) {
                    for (size_t q = 0; q < world; ++q) std::memcpy(mine + q * n * element, send + (q * c.count + done) * element, n * element);
                }, [&] {
                    for (size_t r = 0; r < world; ++r) inputs[r] = comm.segment.slot(int(r)) + size_t(comm.rank) * n * element;
                    reduce(c.type, c.op, inputs.data(), int(world), receive + done * element, n);
                });
                if (!ok) return false;
            }
            return true;
        }
        case KindAllGather: case KindExchange: {
            // In place (send inside receive at this rank's block) is safe: a rank's own block is rewritten with the
            // bytes it already holds, and no other block overlaps its send buffer.
            size_t step = slot / element;
            for (size_t done = 0; done < c.count; done += step) {
                size_t n = std::min(step, c.count - done);
                bool ok = round(comm, message, [&](unsigned char* mine) { std::memmove(mine, send + done * element, n * element); }, [&] {
                    for (size_t r = 0; r < world; ++r)
                        std::memmove(receive + (r * c.count + done) * element, comm.segment.slot(int(r)), n * element);
                });
                if (!ok) return false;
            }
            return true;
        }
        case KindBroadcast: {
            size_t step = slot / element;
            for (size_t done = 0; done < c.count; done += step) {
                size_t n = std::min(step, c.count - done);
                bool ok = round(comm, message, [&](unsigned char* mine) {
                    if (comm.rank == c.root) std::memmove(mine, send + done * element, n * element);
                }, [&] { std::memmove(receive + done * element, comm.segment.slot(c.root), n * element); });
                if (!ok) return false;
            }
            return true;
        }
    }
    return false;
}

}  // namespace

const char* kind_name(int kind) {
    switch (kind) {
        case KindAllReduce: return "ncclAllReduce";
        case KindAllGather: return "ncclAllGather";
        case KindReduceScatter: return "ncclReduceScatter";
        case KindBroadcast: return "ncclBroadcast";
        case KindExchange: return "ncclCommSplit";
        default: return "nccl collective";
    }
}

int run_collective(Comm& comm, const Collective& c, std::string& message) {
    if (comm.broken) {
        message = std::string(kind_name(c.kind)) + ": the communicator failed in an earlier collective";
        return CudaErrorLaunchFailed;
    }
    std::string refusal;
    bool valid = c.kind == KindExchange || check_buffers(comm, c, refusal);

    // Handshake: publish what this rank runs, then compare with every peer before any data moves.
    RankRecord& mine = comm.segment.record(comm.rank);
    mine.op = OpDescriptor{comm.sequence, c.kind, c.type, c.op, c.root, c.count, valid ? 0 : 1, 0};
    std::snprintf(mine.failure, sizeof mine.failure, "%s", refusal.c_str());
    if (!barrier(comm, message)) return CudaErrorLaunchFailed;
    std::string disagreement;
    for (int r = 0; r < comm.world && disagreement.empty(); ++r) {
        const RankRecord& peer = comm.segment.record(r);
        if (r != comm.rank && peer.op.failed)
            disagreement = "rank " + std::to_string(r) + " refused its part: " + peer.failure;
        else if (!same_call(peer.op, mine.op))
            disagreement = "ranks disagree: rank " + std::to_string(comm.rank) + " runs " + describe(mine.op) + ", rank " +
                           std::to_string(r) + " runs " + describe(peer.op);
    }
    ++comm.sequence;
    // Every rank has read the records once all pass this barrier; only then may one overwrite its record.
    if (!barrier(comm, message)) return CudaErrorLaunchFailed;
    if (!valid) {
        message = refusal;
        return CudaErrorIllegalAddress;
    }
    if (!disagreement.empty()) {
        message = std::string(kind_name(c.kind)) + ": " + disagreement;
        comm.fail(InvalidUsage, message);
        return CudaErrorLaunchFailed;
    }
    if (!move_data(comm, c, message)) {
        message = std::string(kind_name(c.kind)) + ": " + message;
        return CudaErrorLaunchFailed;
    }
    return CudaSuccess;
}

int exchange(Comm& comm, const void* mine, size_t bytes, void* all, std::string& why) {
    if (bytes > Segment::kSlotBytes) { why = "split record too large"; return InternalError; }
    Collective c{KindExchange, mine, all, bytes, Int8, Sum, 0};
    int result = run_collective(comm, c, why);
    if (result == CudaSuccess) return Success;
    int error = comm.async_error.load();
    return error != Success ? error : InternalError;
}

}  // namespace emu::nccl
