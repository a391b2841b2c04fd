// nccl.h's result codes, data types and reduction operators, as the emulator's NCCL uses them.
#pragma once

#include <cstddef>
#include <cstdint>

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace emu::nccl {

enum Result : int {
    Success = 0,
    UnhandledCudaError = 1,
    SystemError = 2,
    InternalError = 3,
    InvalidArgument = 4,
    InvalidUsage = 5,
    RemoteError = 6,
    InProgress = 7,
};

enum DataType : int { Int8 = 0, Uint8 = 1, Int32 = 2, Uint32 = 3, Int64 = 4, Uint64 = 5, Float16 = 6, Float32 = 7, Float64 = 8, Bfloat16 = 9 };
enum RedOp : int { Sum = 0, Prod = 1, Max = 2, Min = 3, Avg = 4 };

// NCCL_VERSION_CODE of the release whose interface this emulates (2.28.3).
constexpr int kVersion = 22803;

inline bool valid_type(int t) { return t >= Int8 && t <= Bfloat16; }
inline bool valid_op(int op) { return op >= Sum && op <= Avg; }

inline size_t type_bytes(int t) {
    switch (t) {
        case Int8: case Uint8: return 1;
        case Float16: case Bfloat16: return 2;
        case Int32: case Uint32: case Float32: return 4;
        default: return 8;
    }
}

}  // namespace emu::nccl
