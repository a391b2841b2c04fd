#include "reduce.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../blas/float16.h"
#include "nccl_types.h"

namespace emu::nccl {
namespace {

struct Bf16 { static float load(uint16_t v) { return numeric::bf16_to_float(v); } static uint16_t store(float v) { return numeric::float_to_bf16(v); } };
struct Half { static float load(uint16_t v) { return numeric::half_to_float(v); } static uint16_t store(float v) { return numeric::float_to_half(v); } };
template <typename T> struct Plain { static T load(T v) { return v; } static T store(T v) { return v; } };

// Integer sums and products wrap, as on the GPU; unsigned arithmetic keeps that defined for signed types.
template <typename A>
A combine(int op, A x, A y) {
    switch (op) {
        case Sum: case Avg:
            if constexpr (std::is_integral_v<A>) return A(std::make_unsigned_t<A>(x) + std::make_unsigned_t<A>(y));
            else return x + y;
        case Prod:
            if constexpr (std::is_integral_v<A>) return A(std::make_unsigned_t<A>(x) * std::make_unsigned_t<A>(y));
            else return x * y;
        // A NaN from any rank wins max and min, so a diverged rank cannot hide behind a healthy one.
        case Max: return x != x ? x : (y != y ? y : (x > y ? x : y));
        case Min: return x != x ? x : (y != y ? y : (x < y ? x : y));
    }
    return x;
}

template <typename Stored, typename Codec, typename Acc>
void reduce_typed(int op, const void* const* inputs, int ranks, void* out, size_t count) {
    const Stored* const* in = reinterpret_cast<const Stored* const*>(inputs);
    auto* result = static_cast<Stored*>(out);
    for (size_t i = 0; i < count; ++i) {
        Acc acc = Acc(Codec::load(in[0][i]));
        for (int r = 1; r < ranks; ++r) acc = combine<Acc>(op, acc, Acc(Codec::load(in[r][i])));
        if (op == Avg) acc = acc / Acc(ranks);
        result[i] = Codec::store(acc);
    }
}

}  // namespace

void reduce(int type, int op, const void* const* inputs, int ranks, void* out, size_t count) {
    switch (type) {
        case Int8: reduce_typed<int8_t, Plain<int8_t>, int8_t>(op, inputs, ranks, out, count); break;
        case Uint8: reduce_typed<uint8_t, Plain<uint8_t>, uint8_t>(op, inputs, ranks, out, count); break;
        case Int32: reduce_typed<int32_t, Plain<int32_t>, int32_t>(op, inputs, ranks, out, count); break;
        case Uint32: reduce_typed<uint32_t, Plain<uint32_t>, uint32_t>(op, inputs, ranks, out, count); break;
        case Int64: reduce_typed<int64_t, Plain<int64_t>, int64_t>(op, inputs, ranks, out, count); break;
        case Uint64: reduce_typed<uint64_t, Plain<uint64_t>, uint64_t>(op, inputs, ranks, out, count); break;
        case Float16: reduce_typed<uint16_t, Half, float>(op, inputs, ranks, out, count); break;
        case Float32: reduce_typed<float, Plain<float>, float>(op, inputs, ranks, out, count); break;
        case Float64: reduce_typed<double, Plain<double>, double>(op, inputs, ranks, out, count); break;
        case Bfloat16: reduce_typed<uint16_t, Bf16, float>(op, inputs, ranks, out, count); break;
    }
}

}  // namespace emu::nccl
