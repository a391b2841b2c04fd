// Stands in for CUDA's cuda_fp16.h on the emulated device: __half as its 16 bits (IEEE binary16), and the
// conversions kernels/ calls, bit for bit those of CUDA. Only what kernels/ uses: no arithmetic operators and no
// implicit conversions.
#pragma once

#include <stdint.h>
#include <string.h>

struct __attribute__((aligned(2))) __half {
    unsigned short __x;  // the bits: sign, 5 exponent bits (bias 15), 10 fraction bits
};
static_assert(sizeof(__half) == 2, "__half is two bytes in device memory");

inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short bits) { return __half{bits}; }

// IEEE round to nearest even, as cvt.rn.f16.f32: subnormal results kept, |x| ≥ 65520 (the midpoint above the largest
// half, 65504, which rounds away from its odd fraction) to ±inf, any NaN to the canonical 0x7FFF.
inline __half __float2half_rn(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    const unsigned short sign = (unsigned short)((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return __ushort_as_half(0x7FFF);
    if (magnitude >= 0x477FF000u) return __ushort_as_half(sign | 0x7C00u);
    if (magnitude >= 0x38800000u) {  // a normal half (≥ 2^-14): re-bias the exponent by 127 − 15, drop 13 bits
        uint32_t rebiased = magnitude - (112u << 23);
        rebiased += 0x0FFFu + ((rebiased >> 13) & 1u);  // nearest even, as in __float2bfloat16_rn
        return __ushort_as_half((unsigned short)(sign | (rebiased >> 13)));
    }
    if (magnitude < 0x33000000u) return __ushort_as_half(sign);  // below 2^-25, or the tie at it: to (signed) zero
    // A subnormal half counts units of 2^-24: the significand (with its implicit bit) shifted right by
    // 126 − exponent, 14 … 24 bits, rounded to nearest even. A carry into bit 10 gives the smallest normal, 0x0400.
    const uint32_t exponent = magnitude >> 23, shift = 126u - exponent;
    const uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    uint32_t units = significand >> shift;
    const uint32_t dropped = significand & ((1u << shift) - 1u), midpoint = 1u << (shift - 1u);
    if (dropped > midpoint || (dropped == midpoint && (units & 1u))) units++;
    return __ushort_as_half((unsigned short)(sign | units));
}

// Exact. Every NaN becomes 0x7FFFFFFF, as CUDA's conversion gives (the sign and payload are dropped).
inline float __half2float(__half h) {
    const uint32_t sign = (uint32_t)(h.__x & 0x8000u) << 16;
    const uint32_t exponent = (h.__x >> 10) & 0x1Fu, fraction = h.__x & 0x3FFu;
    uint32_t bits;
    if (exponent == 0x1F) {
        bits = fraction != 0 ? 0x7FFFFFFFu : sign | 0x7F800000u;
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (fraction << 13);
    } else {
        // zero or subnormal: fraction · 2^-24 is exact in fp32
        float value = (float)fraction * 0x1p-24f;
        memcpy(&bits, &value, sizeof bits);
        bits |= sign;
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}
