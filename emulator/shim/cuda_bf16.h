// Stands in for CUDA's cuda_bf16.h on the emulated device: __nv_bfloat16 as its 16 bits, and the conversions
// kernels/ calls, bit for bit those of CUDA. Only what kernels/ uses: no arithmetic operators and no implicit
// conversions (kernels/common.cuh goes through to_float/from_float so the same source builds with nvcc 11.8).
#pragma once

#include <stdint.h>
#include <string.h>

struct __attribute__((aligned(2))) __nv_bfloat16 {
    unsigned short __x;  // the bits: sign, 8 exponent bits, 7 fraction bits (fp32's upper half)
};
static_assert(sizeof(__nv_bfloat16) == 2, "__nv_bfloat16 is two bytes in device memory");

inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short bits) { return __nv_bfloat16{bits}; }

// Round to nearest even on fp32's bits: adding 0x7FFF plus the kept part's lowest bit carries into the kept half
// exactly when the dropped half is above the midpoint, or at it with an odd kept half; a carry out of the fraction
// bumps the exponent, which is also how the largest finite values round to ±inf. Any NaN becomes 0x7FFF, the
// canonical NaN cvt.rn.bf16.f32 writes (sign dropped).
inline __nv_bfloat16 __float2bfloat16_rn(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return __ushort_as_bfloat16(0x7FFF);
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return __ushort_as_bfloat16((unsigned short)(bits >> 16));
}

// Exact: bf16 is fp32 with the low 16 fraction bits zero. A NaN keeps its payload, as sm_80's conversion does.
inline float __bfloat162float(__nv_bfloat16 h) {
    const uint32_t bits = (uint32_t)h.__x << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}
