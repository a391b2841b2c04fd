// The collectives, run on a stream's thread: every rank copies chunks of its input into its own slot of the shared
// segment, waits at a barrier, reads the slots it needs in rank order, waits again, and moves to the next chunk.
#pragma once

#include <cstddef>
#include <string>

#include "comm.h"

namespace emu::nccl {

enum Kind : int { KindAllReduce = 1, KindAllGather, KindReduceScatter, KindBroadcast, KindExchange };

struct Collective {
    int kind;
    const void* send;
    void* receive;
    size_t count;  // all-reduce, broadcast: elements; all-gather: per-rank send; reduce-scatter: per-rank receive
    int type, op, root;
};

const char* kind_name(int kind);

// Runs one collective with every other rank; returns a CUresult for the stream (CUDA_SUCCESS, or
// CUDA_ERROR_ILLEGAL_ADDRESS for a bad buffer, CUDA_ERROR_LAUNCH_FAILED when ranks disagree, a peer failed or the
// communicator was aborted), `message` naming the reason.
int run_collective(Comm& comm, const Collective& collective, std::string& message);

// Host-side all-gather of a small record (at most a slot) for ncclCommSplit; returns an ncclResult_t.
int exchange(Comm& comm, const void* mine, size_t bytes, void* all, std::string& why);

}  // namespace emu::nccl
