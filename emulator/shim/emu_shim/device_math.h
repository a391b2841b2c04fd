// The CUDA math library as far as kernels/ uses it. The float functions (expf, logf, tanhf, erff, sqrtf, fmaxf …)
// are the C library's: correctly rounded or within an ulp or two, like CUDA's without --use_fast_math, but not
// bit-identical to a GPU's. CUDA also declares them (and isfinite, min, max) in the global namespace.
#pragma once

#include <math.h>  // the C++ <math.h>: <cmath> plus its names in the global namespace (isfinite, isnan …)
#include <stdint.h>


inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

// CUDA's integer and floating min/max overloads (crt/math_functions.hpp), including its mixed signed/unsigned
// pairs of one width, which compare as unsigned: min(int, unsigned) is unsigned, as `min(T, (blockIdx.x + 1) * 32)`
// relies on. Macros would break the kernels' local variables named max.
#define EMU_SHIM_MIN_MAX(Result, A, B)                                         \
    inline Result min(A a, B b) { return (Result)a < (Result)b ? (Result)a : (Result)b; } \
    inline Result max(A a, B b) { return (Result)a > (Result)b ? (Result)a : (Result)b; }
EMU_SHIM_MIN_MAX(int, int, int)
EMU_SHIM_MIN_MAX(unsigned, unsigned, unsigned)
EMU_SHIM_MIN_MAX(unsigned, int, unsigned)
EMU_SHIM_MIN_MAX(unsigned, unsigned, int)
EMU_SHIM_MIN_MAX(long, long, long)
EMU_SHIM_MIN_MAX(unsigned long, unsigned long, unsigned long)
EMU_SHIM_MIN_MAX(unsigned long, long, unsigned long)
EMU_SHIM_MIN_MAX(unsigned long, unsigned long, long)
EMU_SHIM_MIN_MAX(long long, long long, long long)
EMU_SHIM_MIN_MAX(unsigned long long, unsigned long long, unsigned long long)
EMU_SHIM_MIN_MAX(unsigned long long, long long, unsigned long long)
EMU_SHIM_MIN_MAX(unsigned long long, unsigned long long, long long)
#undef EMU_SHIM_MIN_MAX
// Floating min/max are fminf/fmax: a NaN operand gives the other one, as on a GPU.
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

// CUDA's round-to-nearest arithmetic intrinsics: nvcc never fuses them into an FMA, which is what kernels that must
// match a CPU twin bit for bit use them for (adamw8bit.cu). Kernels are compiled with -ffp-contract=off here, so the
// plain operators already round each result.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }

// c + the dot product of a's and b's four signed bytes, wrapping modulo 2^32 as the sm_61+ instruction does
// (unsigned arithmetic: signed overflow would be undefined in C++).
inline int __dp4a(int a, int b, int c) {
    uint32_t sum = static_cast<uint32_t>(c);
    for (int i = 0; i < 4; ++i) {
        int32_t x = static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i));
        int32_t y = static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
        sum += static_cast<uint32_t>(x * y);
    }
    return static_cast<int>(sum);
}
