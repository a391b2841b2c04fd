// bf16 matrix products on the CPU with AVX-512 BF16's vdpbf16ps: bf16 operands, fp32 accumulation. The CPU backend
// (engine/Backends/Cpu/CpuBackend.Bf16Matmul.cs) uses it for mixed precision's linear layers when the CPU has the
// instruction; it splits the work into calls on disjoint tiles, one thread each, so nothing here is threaded.
//
// C[M, N] (+)= A(m, k) · B(k, n), A and B given by strides (row stride rs, column stride cs) so the three products of a
// linear layer (forward in·Wᵀ, backward dOut·W and dOutᵀ·in) need no transposed copies.
// vdpbf16ps multiplies pairs: lane i of the accumulator gains x[2i]·y[2i] + x[2i+1]·y[2i+1]. So both operands are
// packed as pairs along k (element 2p in the low half of a 32-bit word, 2p+1 in the high half; an odd K's last pair
// has a zero high half):
//   A: panels of MR rows, for each pair p the MR rows' words side by side: apack[(panel·Kp + p)·MR + r]
//   B: panels of NR columns, for each pair p the NR columns' words side by side: bpack[(panel·Kp + p)·NR + c]
// Rows and columns past the matrix are zero in the packs, so the micro-kernel always runs a full tile and only the
// stores are cut to the matrix. Each output element is one accumulator lane summed over p = 0, 1, … in order, then
// added to the bias or to C's old value: the same bits whatever the tiling or the thread that computes it.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define MR 8  // rows of a tile: broadcast from the A pack
#define NR 48 // columns of a tile: three 16-lane vectors of the B pack; 8 × 3 = 24 accumulators of 32 registers
#define TARGET __attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))
#define EXPORT __attribute__((visibility("default")))

// 1 when this CPU (and the OS, which must save the zmm registers) runs AVX-512 F/BW/VL and BF16.
EXPORT int engine_cpu_bf16_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bf16");
}

EXPORT int engine_cpu_bf16_tile_rows(void) { return MR; }
EXPORT int engine_cpu_bf16_tile_columns(void) { return NR; }

static inline uint32_t pair(uint16_t low, uint16_t high) { return (uint32_t)low | ((uint32_t)high << 16); }

// A(m, k) = a[m·rs + k·cs] into panels [panel0, panel1) of the A pack.
EXPORT TARGET void engine_cpu_bf16_pack_a(uint32_t *apack, const uint16_t *a, long rs, long cs, int M, int K,
                                          int panel0, int panel1)
{
    const int Kp = (K + 1) / 2, fullPairs = K / 2;
    for (int panel = panel0; panel < panel1; panel++)
    {
        uint32_t *dst = apack + (long)panel * Kp * MR;
        const int m0 = panel * MR;
        if (rs == 1 && m0 + MR <= M)
        {
            // Rows contiguous (dOutᵀ of the weight gradient): each pair of k rows interleaves into MR words.
            for (int p = 0; p < fullPairs; p++)
            {
                __m128i lo = _mm_loadu_si128((const __m128i *)(a + (long)(2 * p) * cs + m0));
                __m128i hi = _mm_loadu_si128((const __m128i *)(a + (long)(2 * p + 1) * cs + m0));
                _mm_storeu_si128((__m128i *)(dst + (long)p * MR), _mm_unpacklo_epi16(lo, hi));
                _mm_storeu_si128((__m128i *)(dst + (long)p * MR + 4), _mm_unpackhi_epi16(lo, hi));
            }
            if (K & 1)
                for (int r = 0; r < MR; r++) dst[(long)fullPairs * MR + r] = pair(a[(long)(K - 1) * cs + m0 + r], 0);
            continue;
        }
        for (int r = 0; r < MR; r++)
        {
            const int m = m0 + r;
            if (m >= M)
            {
                for (int p = 0; p < Kp; p++) dst[(long)p * MR + r] = 0;
                continue;
            }
            const uint16_t *row = a + (long)m * rs;
            if (cs == 1)
                for (int p = 0; p < fullPairs; p++)
                {
                    uint32_t w;
                    memcpy(&w, row + 2 * p, 4); // a pair is adjacent in memory already
                    dst[(long)p * MR + r] = w;
                }
            else
                for (int p = 0; p < fullPairs; p++) dst[(long)p * MR + r] = pair(row[(long)(2 * p) * cs], row[(long)(2 * p + 1) * cs]);
            if (K & 1) dst[(long)fullPairs * MR + r] = pair(row[(long)(K - 1) * cs], 0);
        }
    }
}

// r[i] word j becomes r[j] word i.
static inline TARGET void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++)
    {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++)
    {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    // u[4i + j], 128-bit lane L: words 4L + j of rows 4i … 4i + 3. Gather the lanes across i.
    for (int j = 0; j < 4; j++)
    {
        __m512i x = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), y = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
        __m512i x2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88), y2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_i32x4(x, x2, 0x88);
        r[4 + j] = _mm512_shuffle_i32x4(y, y2, 0x88);
        r[8 + j] = _mm512_shuffle_i32x4(x, x2, 0xDD);
        r[12 + j] = _mm512_shuffle_i32x4(y, y2, 0xDD);
    }
}

// B(k, n) = b[k·rs + n·cs] into panels [panel0, panel1) of the B pack.
EXPORT TARGET void engine_cpu_bf16_pack_b(uint32_t *bpack, const uint16_t *b, long rs, long cs, int N, int K,
                                          int panel0, int panel1)
{
    const int Kp = (K + 1) / 2, fullPairs = K / 2;
    // Interleaves 16 words of one row (low halves) with 16 of the next (high halves).
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int panel = panel0; panel < panel1; panel++)
    {
        uint32_t *dst = bpack + (long)panel * Kp * NR;
        const int n0 = panel * NR;
        const int columns = N - n0 < NR ? N - n0 : NR;
        int p0 = 0;
        if (cs == 1)
        {
            // Columns contiguous (W in dOut·W, the input in dOutᵀ·in, v and dO in attention): rows 2p and 2p+1
            // interleave, 16 columns at a time; a last panel's missing columns load as zeros (masked loads), so a
            // narrow panel (a 64-wide head's second one) does not fall to the element loop's strided reads.
            for (int j = 0; j < NR / 16; j++)
            {
                const int count = columns - 16 * j;
                if (count <= 0)
                {
                    for (int p = 0; p < fullPairs; p++) _mm512_storeu_si512(dst + (long)p * NR + 16 * j, _mm512_setzero_si512());
                    continue;
                }
                const __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
                for (int p = 0; p < fullPairs; p++)
                {
                    __m256i lo = _mm256_maskz_loadu_epi16(mask, b + (long)(2 * p) * rs + n0 + 16 * j);
                    __m256i hi = _mm256_maskz_loadu_epi16(mask, b + (long)(2 * p + 1) * rs + n0 + 16 * j);
                    __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
                    _mm512_storeu_si512(dst + (long)p * NR + 16 * j, _mm512_permutexvar_epi16(interleave, both));
                }
            }
            p0 = fullPairs;
        }
        else if (rs == 1 && columns == NR)
        {
            // Pairs contiguous (W in in·Wᵀ): each column's words are a run of memory, so blocks of 16 columns × 16
            // pairs are transposed in registers.
            p0 = fullPairs / 16 * 16;
            for (int p = 0; p < p0; p += 16)
                for (int cb = 0; cb < NR; cb += 16)
                {
                    __m512i r[16];
                    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(b + (long)(n0 + cb + i) * cs + 2 * p);
                    transpose16(r);
                    for (int i = 0; i < 16; i++) _mm512_storeu_si512(dst + (long)(p + i) * NR + cb, r[i]);
                }
        }
        for (int c = 0; c < NR; c++)
        {
            if (c >= columns)
            {
                for (int p = p0; p < Kp; p++) dst[(long)p * NR + c] = 0;
                continue;
            }
            const uint16_t *column = b + (long)(n0 + c) * cs;
            if (rs == 1)
                for (int p = p0; p < fullPairs; p++)
                {
                    uint32_t w;
                    memcpy(&w, column + 2 * p, 4);
                    dst[(long)p * NR + c] = w;
                }
            else
                for (int p = p0; p < fullPairs; p++) dst[(long)p * NR + c] = pair(column[(long)(2 * p) * rs], column[(long)(2 * p + 1) * rs]);
            if (K & 1) dst[(long)fullPairs * NR + c] = pair(column[(long)(K - 1) * rs], 0);
        }
    }
}

// fp32 → bf16 bits, round to nearest even, every NaN the quiet NaN 0x7FC0 (engine/Precision/Bf16.cs).
static inline TARGET __m256i round_to_bf16(__m512 v)
{
    __m512i bits = _mm512_castps_si512(v);
    __m512i lowestKept = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lowestKept, _mm512_set1_epi32(0x7FFF))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7FC0));
    return _mm512_cvtepi32_epi16(rounded);
}

// One tile's outputs: sum (+ bias[n]) (+ C's old value when accumulating), into fp32 or bf16 C.
static inline TARGET void store_tile(__m512 acc[MR][NR / 16], void *c, long ldc, int cBf16, int accumulate,
                                     const float *bias, int m0, int rows, int n0, int columns)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < NR / 16; j++)
        {
            int count = columns - 16 * j;
            if (count <= 0) break;
            __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
            const long offset = (long)(m0 + r) * ldc + n0 + 16 * j;
            __m512 v = acc[r][j];
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias + n0 + 16 * j));
            if (cBf16)
            {
                uint16_t *out = (uint16_t *)c + offset;
                if (accumulate)
                {
                    __m512i old = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, out)), 16);
                    v = _mm512_add_ps(_mm512_castsi512_ps(old), v);
                }
                _mm256_mask_storeu_epi16(out, mask, round_to_bf16(v));
            }
            else
            {
                float *out = (float *)c + offset;
                if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), v);
                _mm512_mask_storeu_ps(out, mask, v);
            }
        }
}

// C for the tiles of A panels [mPanel0, mPanel1) × B panels [nPanel0, nPanel1), from the packs (M×K A, K×N B), summing
// the k pairs [pair0, pair1) only (0 and ⌈K/2⌉ for the whole product; attention's causal blocks skip the pairs whose
// terms are all zero). bias (fp32, N values) or null; accumulate: C += product, else C = product (+ bias).
EXPORT TARGET void engine_cpu_bf16_gemm_pairs(const uint32_t *apack, const uint32_t *bpack, int M, int N, int K,
                                              int mPanel0, int mPanel1, int nPanel0, int nPanel1, int pair0, int pair1,
                                              void *c, long ldc, int cBf16, int accumulate, const float *bias)
{
    const int Kp = (K + 1) / 2;
    if (pair0 < 0) pair0 = 0;
    if (pair1 > Kp) pair1 = Kp;
    const int pairs = pair1 - pair0;
    // A block of panels that stays in L2 (about 256 KiB) while the B panels pass over it.
    int block = pairs > 0 ? (256 * 1024) / (pairs * MR * 4) : mPanel1 - mPanel0;
    if (block < 1) block = 1;
    for (int mb = mPanel0; mb < mPanel1; mb += block)
    {
        const int mbEnd = mb + block < mPanel1 ? mb + block : mPanel1;
        for (int np = nPanel0; np < nPanel1; np++)
        {
            const uint32_t *bp = bpack + (long)np * Kp * NR;
            const int n0 = np * NR, columns = N - n0 < NR ? N - n0 : NR;
            for (int mp = mb; mp < mbEnd; mp++)
            {
                const uint32_t *ap = apack + (long)mp * Kp * MR;
                __m512 acc[MR][NR / 16];
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
                    for (int j = 0; j < NR / 16; j++) acc[r][j] = _mm512_setzero_ps();
                for (int p = pair0; p < pair1; p++)
                {
                    __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + (long)p * NR);
                    __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + (long)p * NR + 16);
                    __m512bh b2 = (__m512bh)_mm512_loadu_si512(bp + (long)p * NR + 32);
                    const uint32_t *ar = ap + (long)p * MR;
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++)
                    {
                        __m512bh x = (__m512bh)_mm512_set1_epi32((int)ar[r]);
                        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
                        acc[r][2] = _mm512_dpbf16_ps(acc[r][2], x, b2);
                    }
                }
                const int m0 = mp * MR, rows = M - m0 < MR ? M - m0 : MR;
                store_tile(acc, c, ldc, cBf16, accumulate, bias, m0, rows, n0, columns);
            }
        }
    }
}

// dst[n] += Σ_m x[m·ld + n] over m = 0, 1, … in order (from 0 in fp32), for columns [n0, n1): the bias gradient.
EXPORT TARGET void engine_cpu_bf16_column_sum(float *dst, const uint16_t *x, long ld, int M, int n0, int n1)
{
    for (int n = n0; n < n1; n += 16)
    {
        int count = n1 - n < 16 ? n1 - n : 16;
        __mmask16 mask = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
        __m512 sum = _mm512_setzero_ps();
        for (int m = 0; m < M; m++)
        {
            __m512i v = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, x + (long)m * ld + n)), 16);
            sum = _mm512_add_ps(sum, _mm512_castsi512_ps(v));
        }
        _mm512_mask_storeu_ps(dst + n, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, dst + n), sum));
    }
}
