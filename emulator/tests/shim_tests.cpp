// Tests of the CUDA shim (emulator/shim) that need no scheduler: bf16/fp16 conversions against a reference that
// rounds in double arithmetic (frexp/ldexp/nearbyint) instead of on bits, WMMA against a plain loop, the shuffle
// and vote wrappers, CUDA's min/max overloads, and atomics under two OS threads. The emu:: device calls are defined
// here for one lane, which is all these need. Exit status 0 when everything passes; each failure is printed.
//
//   g++ -std=c++17 -O2 -Wall -pthread -I emulator/shim emulator/tests/shim_tests.cpp -o shim_tests && ./shim_tests
//   ./shim_tests --exhaustive    # also every one of the 2^32 float bit patterns (a few minutes)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cfloat>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

// ---- the device calls, for a single lane ----------------------------------------------------------------------
namespace emu {
thread_local ThreadContext* current_thread = nullptr;
thread_local BlockContext* current_block = nullptr;
static int warp_syncs = 0;
static ShuffleKind last_kind;
static int last_operand = 0, last_width = 0;
void sync_threads() {}
void sync_warp(unsigned) { warp_syncs++; }
uint64_t shuffle(ShuffleKind kind, unsigned, uint64_t value, int operand, int width) {
    last_kind = kind;
    last_operand = operand;
    last_width = width;
    return value;  // one lane: every source lane is this one
}
unsigned ballot(unsigned mask, bool predicate) { return predicate ? (mask & 1u) : 0u; }
// A trap ends the launch on the emulated device; here it throws, so a test can expect one.
struct Trapped {
    std::string what;
};
void trap(const char* what) { throw Trapped{what}; }
void device_printf(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::vprintf(format, args);
    va_end(args);
}
}  // namespace emu

// ---- reporting ---------------------------------------------------------------------------------------------------
static int failures = 0;
static void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char* format, ...) {
    if (++failures > 50) return;  // the first few say enough
    va_list args;
    va_start(args, format);
    std::fputs("FAIL: ", stdout);
    std::vfprintf(stdout, format, args);
    std::fputc('\n', stdout);
    va_end(args);
}

static uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// ---- the reference: rounding in double ----------------------------------------------------------------------------
// A 16-bit format by its significant bits, the exponent of its smallest normal and its largest finite value.
struct Format {
    const char* name;
    int precision;
    int min_normal_exponent;
    double max_finite;
};
static const Format bf16_format{"bf16", 8, -126, std::ldexp(255.0, 120)};
static const Format fp16_format{"fp16", 11, -14, 65504.0};

// x rounded to the format, nearest even: scale so the last kept bit has weight 1, round to an integer (nearbyint
// rounds ties to even in the default mode), scale back. Every step is exact in double. ±inf past max_finite.
static double round_reference(double x, const Format& f) {
    if (x == 0.0 || std::isinf(x)) return x;
    int e;
    std::frexp(std::fabs(x), &e);  // |x| = m·2^e, m in [0.5, 1): the leading bit weighs 2^(e−1)
    const int quantum = std::max(e - 1, f.min_normal_exponent) - (f.precision - 1);
    const double r = std::ldexp(std::nearbyint(std::ldexp(std::fabs(x), -quantum)), quantum);
    return std::copysign(r > f.max_finite ? INFINITY : r, x);
}

// bf16 bits of a value bf16 holds exactly: fp32's upper half (the lower half must be zero).
static unsigned encode_bf16(double v) {
    const uint32_t u = bits_of((float)v);
    if ((u & 0xFFFFu) != 0) fail("reference: %a is no bf16 value", v);
    return u >> 16;
}
// fp16 bits of a value fp16 holds exactly, from frexp.
static unsigned encode_fp16(double v) {
    const unsigned sign = std::signbit(v) ? 0x8000u : 0u;
    const double a = std::fabs(v);
    if (std::isinf(a)) return sign | 0x7C00u;
    if (a < std::ldexp(1.0, -14)) return sign | (unsigned)std::ldexp(a, 24);
    int e;
    const double m = std::frexp(a, &e);  // a = m·2^e, m in [0.5, 1)
    return sign | (unsigned)(e - 1 + 15) << 10 | (unsigned)std::ldexp(2.0 * m - 1.0, 10);
}
static double decode(unsigned bits, const Format& f, int exponent_bits) {
    const int fraction_bits = f.precision - 1, bias = (1 << (exponent_bits - 1)) - 1;
    const unsigned exponent = (bits >> fraction_bits) & ((1u << exponent_bits) - 1);
    const unsigned fraction = bits & ((1u << fraction_bits) - 1);
    const double sign = (bits >> (fraction_bits + exponent_bits)) & 1u ? -1.0 : 1.0;
    if (exponent == (1u << exponent_bits) - 1) return fraction ? NAN : sign * INFINITY;
    if (exponent == 0) return sign * std::ldexp((double)fraction, 1 - bias - fraction_bits);
    return sign * std::ldexp((double)(fraction | (1u << fraction_bits)), (int)exponent - bias - fraction_bits);
}

static unsigned expected_bf16(float x) { return std::isnan(x) ? 0x7FFFu : encode_bf16(round_reference(x, bf16_format)); }
static unsigned expected_fp16(float x) { return std::isnan(x) ? 0x7FFFu : encode_fp16(round_reference(x, fp16_format)); }

static void check_float_to_16(float x) {
    const unsigned b = __bfloat16_as_ushort(__float2bfloat16_rn(x)), eb = expected_bf16(x);
    if (b != eb) fail("__float2bfloat16_rn(%a = 0x%08X) = 0x%04X, expected 0x%04X", x, bits_of(x), b, eb);
    const unsigned h = __half_as_ushort(__float2half_rn(x)), eh = expected_fp16(x);
    if (h != eh) fail("__float2half_rn(%a = 0x%08X) = 0x%04X, expected 0x%04X", x, bits_of(x), h, eh);
}

// Every 16-bit pattern: widening against the decoding reference, and back (NaN to the canonical 0x7FFF).
static void test_every_16_bit_value() {
    for (unsigned bits = 0; bits <= 0xFFFFu; bits++) {
        const float b = __bfloat162float(__ushort_as_bfloat16((unsigned short)bits));
        const double rb = decode(bits, bf16_format, 8);
        if (std::isnan(rb) ? bits_of(b) != bits << 16 : (double)b != rb || std::signbit(b) != std::signbit(rb))
            fail("__bfloat162float(0x%04X) = %a (0x%08X), expected %a", bits, b, bits_of(b), rb);
        const unsigned back_b = __bfloat16_as_ushort(__float2bfloat16_rn(b));
        if (back_b != (std::isnan(rb) ? 0x7FFFu : bits)) fail("bf16 0x%04X round trip gave 0x%04X", bits, back_b);

        const float h = __half2float(__ushort_as_half((unsigned short)bits));
        const double rh = decode(bits, fp16_format, 5);
        if (std::isnan(rh) ? bits_of(h) != 0x7FFFFFFFu : (double)h != rh || std::signbit(h) != std::signbit(rh))
            fail("__half2float(0x%04X) = %a (0x%08X), expected %a", bits, h, bits_of(h), rh);
        const unsigned back_h = __half_as_ushort(__float2half_rn(h));
        if (back_h != (std::isnan(rh) ? 0x7FFFu : bits)) fail("fp16 0x%04X round trip gave 0x%04X", bits, back_h);
    }
}

// Around every 16-bit value: the value, its fp32 neighbours, the midpoint to the next value (a tie) and the fp32
// values either side of it. Covers every tie of both formats, subnormals and the overflow threshold included.
static void test_ties_and_neighbours(const Format& f, int exponent_bits) {
    const unsigned top = 1u << (f.precision - 1 + exponent_bits);  // the first pattern with the sign bit set
    for (unsigned bits = 0; bits < top; bits++) {
        const double v = decode(bits, f, exponent_bits);
        if (std::isnan(v) || std::isinf(v)) continue;
        const double next = bits + 1 < top && !std::isinf(decode(bits + 1, f, exponent_bits))
                                ? decode(bits + 1, f, exponent_bits)
                                : v + (v - decode(bits - 1, f, exponent_bits));  // past the largest: 2^128 or 65536
        const float points[] = {(float)v, (float)((v + next) / 2)};
        for (float p : points) {
            for (float x : {p, std::nextafter(p, -INFINITY), std::nextafter(p, INFINITY)}) {
                check_float_to_16(x);
                check_float_to_16(-x);
            }
        }
    }
}

// For bf16 the ties are exactly the fp32 patterns whose lower half is 0x8000: all of them, and their neighbours.
static void test_every_bf16_tie() {
    for (uint32_t upper = 0; upper <= 0xFFFFu; upper++)
        for (uint32_t lower : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu})
            check_float_to_16(float_of(upper << 16 | lower));
}

static void test_special_values() {
    const float values[] = {0.0f, -0.0f, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN,
                            65504.0f, 65519.996f, 65520.0f, -65520.0f, 0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1p-14f,
                            0x1.ff8p-15f, 1.0f, 1.00390625f, 1.01171875f};
    for (float x : values) check_float_to_16(x);
    for (uint32_t nan : {0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu, 0x7FA00000u}) {
        const float x = float_of(nan);
        if (__bfloat16_as_ushort(__float2bfloat16_rn(x)) != 0x7FFF) fail("bf16 of NaN 0x%08X is not 0x7FFF", nan);
        if (__half_as_ushort(__float2half_rn(x)) != 0x7FFF) fail("fp16 of NaN 0x%08X is not 0x7FFF", nan);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_random() {  // xorshift64*: a fixed sequence, so a failure reproduces
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void test_random_patterns(int count) {
    for (int i = 0; i < count; i++) check_float_to_16(float_of((uint32_t)(next_random() >> 32)));
}

static void test_every_pattern() {
    for (uint64_t u = 0; u <= 0xFFFFFFFFull; u++) {
        check_float_to_16(float_of((uint32_t)u));
        if (failures > 50) return;
    }
}

// ---- WMMA --------------------------------------------------------------------------------------------------------
// Operands m·2^-s with small integers m and s make every sum exact in double and in long double, so the shim's
// result and a plain loop (long double, k descending) agree bit for bit; any layout or indexing slip shows.
template <typename T> static T operand_value(float& as_float) {
    const int m = (int)(next_random() % 31) - 15, s = (int)(next_random() % 5);
    as_float = std::ldexp((float)m, -s);
    if constexpr (std::is_same<T, __half>::value) return __float2half_rn(as_float);
    else return __float2bfloat16_rn(as_float);
}

template <typename T, typename LayoutA, typename LayoutB> static void test_mma(const char* name) {
    using namespace nvcuda;
    // Padded leading dimensions, as CUDA allows them: multiples of 16 bytes, tiles 32-byte aligned.
    constexpr int n = 16, lda = 24, ldb = 40, ldc = 20;
    constexpr bool a_rows = std::is_same<LayoutA, wmma::row_major>::value;
    constexpr bool b_rows = std::is_same<LayoutB, wmma::row_major>::value;
    alignas(32) T a_mem[n * lda] = {}, b_mem[n * ldb] = {};
    alignas(32) float c_mem[n * ldc] = {}, d_mem[n * ldc], d_cols[n * ldc];
    std::fill(d_mem, d_mem + n * ldc, -1.0f);
    std::fill(d_cols, d_cols + n * ldc, -1.0f);
    float a[n][n], b[n][n], c[n][n];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            a_mem[a_rows ? i * lda + j : j * lda + i] = operand_value<T>(a[i][j]);
            b_mem[b_rows ? i * ldb + j : j * ldb + i] = operand_value<T>(b[i][j]);
            c[i][j] = std::ldexp((float)((int)(next_random() % 2001) - 1000), -3);
            c_mem[j * ldc + i] = c[i][j];  // the accumulator is loaded column-major
        }
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LayoutA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LayoutB> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    const int syncs_before = emu::warp_syncs;
    wmma::load_matrix_sync(fa, a_mem, lda);
    wmma::load_matrix_sync(fb, b_mem, ldb);
    wmma::load_matrix_sync(acc, c_mem, ldc, wmma::mem_col_major);
    wmma::mma_sync(acc, fa, fb, acc);  // d is c: the accumulate form the kernels use
    wmma::mma_sync(acc, fa, fb, acc);
    wmma::store_matrix_sync(d_mem, acc, ldc, wmma::mem_row_major);
    wmma::store_matrix_sync(d_cols, acc, ldc, wmma::mem_col_major);
    if (emu::warp_syncs - syncs_before != 7) fail("%s: %d warp barriers for 7 collectives", name, emu::warp_syncs - syncs_before);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            long double sum = c[i][j];
            for (int pass = 0; pass < 2; pass++) {
                long double product_sum = 0;
                for (int k = n - 1; k >= 0; k--) product_sum += (long double)a[i][k] * b[k][j];
                sum = (float)(sum + product_sum);  // each mma_sync rounds its result to fp32
            }
            if (d_mem[i * ldc + j] != (float)sum || d_cols[j * ldc + i] != (float)sum)
                fail("%s: d[%d][%d] = %a (row-major store), %a (column-major), expected %a", name, i, j,
                     d_mem[i * ldc + j], d_cols[j * ldc + i], (float)sum);
        }
    for (int i = 0; i < n; i++)  // the padding between rows is not written
        for (int j = n; j < ldc; j++)
            if (d_mem[i * ldc + j] != -1.0f) fail("%s: store wrote past the tile at [%d][%d]", name, i, j);

    wmma::fill_fragment(acc, 2.5f);
    wmma::store_matrix_sync(d_mem, acc, ldc, wmma::mem_row_major);
    if (d_mem[0] != 2.5f || d_mem[15 * ldc + 15] != 2.5f) fail("%s: fill_fragment", name);

    // What CUDA leaves undefined traps here: a tile not 32-byte aligned, a leading dimension not a multiple of 16 bytes.
    auto traps = [](auto&& call) {
        try { call(); } catch (const emu::Trapped&) { return true; }
        return false;
    };
    if (!traps([&] { wmma::load_matrix_sync(fa, a_mem + 8, lda); })) fail("%s: a load from a 16-byte aligned tile did not trap", name);
    if (!traps([&] { wmma::load_matrix_sync(fb, b_mem, 20); })) fail("%s: ldm 20 (40 bytes) did not trap", name);
    if (!traps([&] { wmma::store_matrix_sync(d_mem, acc, 17, wmma::mem_row_major); })) fail("%s: a store with ldm 17 did not trap", name);
}

// Rounding happens once, after an exact sum: 1 + 2^-24 + 2^-24 is 1 + 2^-23 (a float), where fp32 steps give 1.
static void test_mma_single_rounding() {
    using namespace nvcuda;
    alignas(32) __nv_bfloat16 a[256], b[256];
    std::fill(a, a + 256, __float2bfloat16_rn(0.0f));
    std::fill(b, b + 256, __float2bfloat16_rn(0.0f));
    a[0] = __float2bfloat16_rn(0x1p-12f);
    a[1] = __float2bfloat16_rn(0x1p-12f);
    b[0] = __float2bfloat16_rn(0x1p-12f);
    b[16] = __float2bfloat16_rn(0x1p-12f);
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::load_matrix_sync(fa, a, 16);
    wmma::load_matrix_sync(fb, b, 16);
    wmma::fill_fragment(acc, 1.0f);
    wmma::mma_sync(acc, fa, fb, acc);
    alignas(32) float d[256];
    wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
    if (d[0] != 1.0f + 0x1p-23f) fail("mma_sync(1 + 2^-24 + 2^-24) = %a, expected %a", d[0], 1.0f + 0x1p-23f);
}

// ---- the rest of the surface -----------------------------------------------------------------------------------------
static void test_shuffles_and_votes() {
    if (__shfl_xor_sync(0xFFFFFFFFu, 1.5, 4) != 1.5 || emu::last_kind != emu::ShuffleKind::Xor || emu::last_operand != 4 ||
        emu::last_width != 32)
        fail("__shfl_xor_sync(double)");
    if (__shfl_down_sync(0xFFFFFFFFu, -7, 2u, 16) != -7 || emu::last_kind != emu::ShuffleKind::Down || emu::last_width != 16)
        fail("__shfl_down_sync(int)");
    if (__shfl_up_sync(0xFFFFFFFFu, 3.25f, 1u) != 3.25f || emu::last_kind != emu::ShuffleKind::Up) fail("__shfl_up_sync(float)");
    if (__shfl_sync(0xFFFFFFFFu, 0x123456789ll, 0) != 0x123456789ll || emu::last_kind != emu::ShuffleKind::Index)
        fail("__shfl_sync(long long)");
    if (__ballot_sync(1u, 5) != 1u || __ballot_sync(1u, 0) != 0u) fail("__ballot_sync");
    if (!__all_sync(1u, 1) || __all_sync(1u, 0) || !__any_sync(1u, 1) || __any_sync(1u, 0)) fail("__all_sync/__any_sync");
}

// CUDA's overloads: a signed and an unsigned operand of one width compare as unsigned.
static_assert(std::is_same<decltype(min(1, 2u)), unsigned>::value, "min(int, unsigned) is unsigned");
static_assert(std::is_same<decltype(max(1L, 2L)), long>::value, "max(long, long) is long");
static_assert(std::is_same<decltype(min(1.0f, 2.0)), double>::value, "min(float, double) is double");
static void test_min_max() {
    if (min(3, 5) != 3 || max(3, 5) != 5 || min(-1, 1u) != 1u || max(-1L, 1L) != 1L) fail("integer min/max");
    if (min(NAN, 1.0f) != 1.0f || max(2.0, NAN) != 2.0) fail("floating min/max with NaN");
    if (std::fabs(rsqrtf(4.0f) - 0.5f) > 1e-7f) fail("rsqrtf");
}

static void test_atomics() {
    int i = 0;
    unsigned long long u = 0;
    float f = 0;
    double d = 0;
    auto work = [&] {
        for (int n = 0; n < 200000; n++) {
            atomicAdd(&i, 1);
            atomicAdd(&u, 2ull);
            atomicAdd(&f, 1.0f);  // exact while below 2^24
            atomicAdd(&d, 0.5);
        }
    };
    std::thread other(work);
    work();
    other.join();
    if (i != 400000 || u != 800000 || f != 400000.0f || d != 200000.0) fail("atomicAdd under two threads");
    int m = 5;
    if (atomicMax(&m, 9) != 5 || m != 9 || atomicMax(&m, 2) != 9 || m != 9) fail("atomicMax");
    if (atomicMin(&m, 2) != 9 || m != 2) fail("atomicMin");
    if (atomicExch(&m, 7) != 2 || m != 7) fail("atomicExch");
    float g = 1.0f;
    if (atomicExch(&g, 3.0f) != 1.0f || g != 3.0f) fail("atomicExch(float)");
    if (atomicCAS(&m, 7, 11) != 7 || m != 11 || atomicCAS(&m, 7, 12) != 11 || m != 11) fail("atomicCAS");
}

int main(int argc, char** argv) {
    const bool exhaustive = argc > 1 && std::string(argv[1]) == "--exhaustive";
    test_every_16_bit_value();
    test_ties_and_neighbours(bf16_format, 8);
    test_ties_and_neighbours(fp16_format, 5);
    test_every_bf16_tie();
    test_special_values();
    test_random_patterns(1 << 22);
    if (exhaustive) test_every_pattern();
    test_mma<__nv_bfloat16, nvcuda::wmma::row_major, nvcuda::wmma::col_major>("mma bf16 row×col");
    test_mma<__nv_bfloat16, nvcuda::wmma::col_major, nvcuda::wmma::row_major>("mma bf16 col×row");
    test_mma<__half, nvcuda::wmma::row_major, nvcuda::wmma::row_major>("mma fp16 row×row");
    test_mma_single_rounding();
    test_shuffles_and_votes();
    test_min_max();
    test_atomics();
    if (failures) {
        std::fprintf(stdout, "%d check(s) failed\n", failures);
        return 1;
    }
    std::fprintf(stdout, "shim tests passed%s\n", exhaustive ? " (every fp32 pattern)" : "");
    return 0;
}
