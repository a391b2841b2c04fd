// Bit-exact conversions between fp32 and the 16-bit formats (bf16, fp16) and tf32 rounding, shared by the GEMMs
// and the NCCL reductions. They must agree with CUDA's __float2bfloat16_rn / __float2half_rn bit for bit, since
// tests compare emulated results with the kernels' own conversions.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace emu::numeric {

inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16_to_float(uint16_t h) { return bits_float(uint32_t(h) << 16); }

// Round to nearest even; every NaN becomes the canonical 0x7FFF, as CUDA's conversion does.
inline uint16_t float_to_bf16(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FFF;
    u += 0x7FFFu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

inline float half_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    if (exponent == 0x1F) return bits_float(sign | 0x7F800000u | (mantissa << 13));
    if (exponent != 0) return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
    // Subnormal: mantissa · 2^-24 is exact in fp32.
    float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
}

inline uint16_t float_to_half(float f) {
    uint32_t u = float_bits(f);
    uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    uint32_t magnitude = u & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return 0x7FFF;
    if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // 65520 and above round to infinity
    if (magnitude >= 0x38800000u) {                       // a normal half (2^-14 and above)
        magnitude += 0xFFFu + ((magnitude >> 13) & 1u);
        return uint16_t(sign | ((magnitude - 0x38000000u) >> 13));
    }
    // Subnormal or zero: scaling by 2^24 is exact, and rint rounds to nearest even in the default mode; 1024 is the
    // smallest normal's encoding, so a carry out of the subnormal range needs no special case.
    float scaled = bits_float(magnitude) * 16777216.0f;
    return uint16_t(sign | uint16_t(std::rint(scaled)));
}

// TF32: fp32 with its mantissa rounded to 10 bits (nearest even), as tensor cores read fp32 operands under
// CUBLAS_COMPUTE_32F_FAST_TF32. Infinity and NaN pass through unchanged.
inline float round_to_tf32(float f) {
    uint32_t u = float_bits(f);
    if ((u & 0x7F800000u) == 0x7F800000u) return f;
    u += 0xFFFu + ((u >> 13) & 1u);
    return bits_float(u & ~0x1FFFu);
}

}  // namespace emu::numeric
