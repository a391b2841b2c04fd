// The 16-bit conversions of the GEMMs and the NCCL reductions: those of the CUDA shim (emulator/shim), so cuBLAS,
// NCCL and the kernels round exactly alike (CUDA's __float2bfloat16_rn / __float2half_rn, checked over every float
// by emulator_shim_tests --exhaustive); and tf32 rounding.
#pragma once

#include <cstdint>
#include <cstring>

#include "../shim/cuda_bf16.h"
#include "../shim/cuda_fp16.h"

namespace emu::numeric {

inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16_to_float(uint16_t h) { return __bfloat162float(__ushort_as_bfloat16(h)); }
inline uint16_t float_to_bf16(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
inline float half_to_float(uint16_t h) { return __half2float(__ushort_as_half(h)); }
inline uint16_t float_to_half(float f) { return __half_as_ushort(__float2half_rn(f)); }

// TF32: fp32 with its mantissa rounded to 10 bits (nearest even), as tensor cores read fp32 operands under
// CUBLAS_COMPUTE_32F_FAST_TF32. Infinity and NaN pass through unchanged.
inline float round_to_tf32(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7F800000u) == 0x7F800000u) return f;
    u += 0xFFFu + ((u >> 13) & 1u);
    return bits_float(u & ~0x1FFFu);
}

}  // namespace emu::numeric
