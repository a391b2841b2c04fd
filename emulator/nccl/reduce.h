// Element-wise reductions over every rank's contribution, in rank order, so that each rank computes the same bits.
#pragma once

#include <cstddef>

namespace emu::nccl {

// out[i] = inputs[0][i] ⊕ inputs[1][i] ⊕ … ⊕ inputs[ranks-1][i], left to right. fp16 and bf16 accumulate in fp32 and
// round once per element (nearest even); avg is the sum divided by the rank count once at the end (integer division
// for integer types). `out` may alias any input.
void reduce(int type, int op, const void* const* inputs, int ranks, void* out, size_t count);

}  // namespace emu::nccl
