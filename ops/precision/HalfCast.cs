using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Kernels;
using Engine.Precision;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// fp32 ↔ bf16/fp16 over a buffer: the CPU twin of ops/precision/precision.cu's casts, bit for bit the element helpers
/// <see cref="Bf16"/> and <see cref="Fp16"/>, vectorised (Vector512, else Vector256, else scalar: the same integer
/// rounding in every lane, so every width gives the same bits; a vector holding a NaN goes element by element, so NaN
/// payloads come out as the helpers make them). Chunks of the buffer run in parallel; each element is converted on
/// its own, so the thread count cannot change a result.
/// </summary>
public static unsafe class HalfCast
{
    const int Chunk = 32768; // elements per parallel piece: 64–128 KiB each way, large enough to hide a task's cost

    public static void ToHalf(ushort* output, float* input, long count, HalfFormat format) => ToHalf(output, input, count, format, Simd.Best);

    public static void FromHalf(float* output, ushort* input, long count, HalfFormat format) => FromHalf(output, input, count, format, Simd.Best);

    /// <summary><see cref="ToHalf(ushort*, float*, long, HalfFormat)"/> on the calling thread, for callers that are
    /// parallel tasks already (a row of attention): no split into tasks, nothing allocated.</summary>
    public static void ToHalfOnThisThread(ushort* output, float* input, long count, HalfFormat format)
    {
        if (format == HalfFormat.Bf16) ToBf16(output, input, count, Simd.Best);
        else ToFp16(output, input, count, Simd.Best);
    }

    /// <summary><see cref="FromHalf(float*, ushort*, long, HalfFormat)"/> on the calling thread (see
    /// <see cref="ToHalfOnThisThread"/>).</summary>
    public static void FromHalfOnThisThread(float* output, ushort* input, long count, HalfFormat format)
    {
        if (format == HalfFormat.Bf16) FromBf16(output, input, count, Simd.Best);
        else FromFp16(output, input, count, Simd.Best);
    }

    /// <summary><see cref="ToHalf(ushort*, float*, long, HalfFormat)"/> with the vector width forced, not capped at
    /// <see cref="Simd.Best"/>: the tests run every path on any CPU (.NET emulates a width the CPU lacks).</summary>
    public static void ToHalf(ushort* output, float* input, long count, HalfFormat format, SimdLevel width) =>
        ParallelRows.ForChunks(count, (start, end) =>
        {
            // Branch once per chunk, not per element.
            if (format == HalfFormat.Bf16) ToBf16(output + start, input + start, end - start, width);
            else ToFp16(output + start, input + start, end - start, width);
        }, Chunk);

    /// <summary><see cref="FromHalf(float*, ushort*, long, HalfFormat)"/> with the vector width forced.</summary>
    public static void FromHalf(float* output, ushort* input, long count, HalfFormat format, SimdLevel width) =>
        ParallelRows.ForChunks(count, (start, end) =>
        {
            if (format == HalfFormat.Bf16) FromBf16(output + start, input + start, end - start, width);
            else FromFp16(output + start, input + start, end - start, width);
        }, Chunk);

    // Round to nearest even as Bf16.FromFloat does: add 0x7FFF plus the lowest kept bit, keep the top half; NaN first.
    static void ToBf16(ushort* output, float* input, long count, SimdLevel width)
    {
        long i = 0;
        if (width == SimdLevel.Vector512)
            for (; i + 32 <= count; i += 32)
            {
                var lo = RoundToBf16(Vector512.Load(input + i));
                var hi = RoundToBf16(Vector512.Load(input + i + 16));
                Vector512.Narrow(lo, hi).Store(output + i);
            }
        else if (width == SimdLevel.Vector256)
            for (; i + 16 <= count; i += 16)
            {
                var lo = RoundToBf16(Vector256.Load(input + i));
                var hi = RoundToBf16(Vector256.Load(input + i + 8));
                Vector256.Narrow(lo, hi).Store(output + i);
            }
        for (; i < count; i++) output[i] = Bf16.FromFloat(input[i]);
    }

    static Vector512<uint> RoundToBf16(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
        return Vector512.ConditionalSelect(Vector512.Equals(x, x).AsUInt32(), rounded, Vector512.Create((uint)Bf16.QuietNaN));
    }

    static Vector256<uint> RoundToBf16(Vector256<float> x)
    {
        var bits = x.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x).AsUInt32(), rounded, Vector256.Create((uint)Bf16.QuietNaN));
    }

    // Exact: the bf16 bits become the top half of a float.
    static void FromBf16(float* output, ushort* input, long count, SimdLevel width)
    {
        long i = 0;
        if (width == SimdLevel.Vector512)
            for (; i + 32 <= count; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(input + i));
                (lo << 16).AsSingle().Store(output + i);
                (hi << 16).AsSingle().Store(output + i + 16);
            }
        else if (width == SimdLevel.Vector256)
            for (; i + 16 <= count; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(input + i));
                (lo << 16).AsSingle().Store(output + i);
                (hi << 16).AsSingle().Store(output + i + 8);
            }
        for (; i < count; i++) output[i] = Bf16.ToFloat(input[i]);
    }

    // fp16, round to nearest even, in integer steps (Fp16.FromFloat goes through System.Half, which rounds the same):
    // |x| ≥ 65536 (and inf) is inf; a normal result adds the exponent change, 0xFFF and the lowest kept bit, then
    // drops 13 bits (a carry rounds up into the next binade, or to inf from 65520 up); a subnormal result (|x| < 2^-14)
    // comes from the float sum |x| + 0.5, whose last place is fp16's smallest subnormal, so the FPU does the rounding.
    const uint Fp16Overflow = 0x47800000, Fp16SmallestNormal = 0x38800000, PointFive = 0x3F000000;
    const uint RebiasAndRound = 0xC8000FFF; // (15 − 127) << 23, plus 0xFFF

    static void ToFp16(ushort* output, float* input, long count, SimdLevel width)
    {
        long i = 0;
        if (width == SimdLevel.Vector512)
            for (; i + 32 <= count; i += 32)
            {
                var x0 = Vector512.Load(input + i);
                var x1 = Vector512.Load(input + i + 16);
                if (!Vector512.EqualsAll(x0, x0) || !Vector512.EqualsAll(x1, x1)) { ScalarToFp16(output + i, input + i, 32); continue; }
                Vector512.Narrow(RoundToFp16(x0), RoundToFp16(x1)).Store(output + i);
            }
        else if (width == SimdLevel.Vector256)
            for (; i + 16 <= count; i += 16)
            {
                var x0 = Vector256.Load(input + i);
                var x1 = Vector256.Load(input + i + 8);
                if (!Vector256.EqualsAll(x0, x0) || !Vector256.EqualsAll(x1, x1)) { ScalarToFp16(output + i, input + i, 16); continue; }
                Vector256.Narrow(RoundToFp16(x0), RoundToFp16(x1)).Store(output + i);
            }
        ScalarToFp16(output + i, input + i, count - i);
    }

    static void ScalarToFp16(ushort* output, float* input, long count)
    {
        for (long i = 0; i < count; i++) output[i] = Fp16.FromFloat(input[i]);
    }

    static Vector512<uint> RoundToFp16(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        var magnitude = bits & Vector512.Create(0x7FFFFFFFu);
        var normal = (magnitude + Vector512.Create(RebiasAndRound) + ((magnitude >> 13) & Vector512<uint>.One)) >> 13;
        var subnormal = (magnitude.AsSingle() + Vector512.Create(PointFive).AsSingle()).AsUInt32() - Vector512.Create(PointFive);
        var result = Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(Fp16SmallestNormal)), subnormal, normal);
        result = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(Fp16Overflow)), Vector512.Create(0x7C00u), result);
        return result | ((bits >> 16) & Vector512.Create(0x8000u));
    }

    static Vector256<uint> RoundToFp16(Vector256<float> x)
    {
        var bits = x.AsUInt32();
        var magnitude = bits & Vector256.Create(0x7FFFFFFFu);
        var normal = (magnitude + Vector256.Create(RebiasAndRound) + ((magnitude >> 13) & Vector256<uint>.One)) >> 13;
        var subnormal = (magnitude.AsSingle() + Vector256.Create(PointFive).AsSingle()).AsUInt32() - Vector256.Create(PointFive);
        var result = Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(Fp16SmallestNormal)), subnormal, normal);
        result = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(Fp16Overflow)), Vector256.Create(0x7C00u), result);
        return result | ((bits >> 16) & Vector256.Create(0x8000u));
    }

    // fp16 → fp32, exact: the 15 magnitude bits move up 13 places and the exponent is rebiased (by 112 binades, by
    // 224 for inf); a subnormal (exponent 0) is built as 2^-14·(1 + m/1024) and the 2^-14 subtracted again, which the
    // FPU does exactly, normalising it. NaNs (exponent 31, mantissa ≠ 0) go element by element.
    static void FromFp16(float* output, ushort* input, long count, SimdLevel width)
    {
        long i = 0;
        if (width == SimdLevel.Vector512)
            for (; i + 32 <= count; i += 32)
            {
                var (h0, h1) = Vector512.Widen(Vector512.Load(input + i));
                var nan = Vector512.Create(0x7C00u);
                if (Vector512.GreaterThanAny(h0 & Vector512.Create(0x7FFFu), nan) || Vector512.GreaterThanAny(h1 & Vector512.Create(0x7FFFu), nan))
                { ScalarFromFp16(output + i, input + i, 32); continue; }
                WidenFp16(h0).AsSingle().Store(output + i);
                WidenFp16(h1).AsSingle().Store(output + i + 16);
            }
        else if (width == SimdLevel.Vector256)
            for (; i + 16 <= count; i += 16)
            {
                var (h0, h1) = Vector256.Widen(Vector256.Load(input + i));
                var nan = Vector256.Create(0x7C00u);
                if (Vector256.GreaterThanAny(h0 & Vector256.Create(0x7FFFu), nan) || Vector256.GreaterThanAny(h1 & Vector256.Create(0x7FFFu), nan))
                { ScalarFromFp16(output + i, input + i, 16); continue; }
                WidenFp16(h0).AsSingle().Store(output + i);
                WidenFp16(h1).AsSingle().Store(output + i + 8);
            }
        ScalarFromFp16(output + i, input + i, count - i);
    }

    static void ScalarFromFp16(float* output, ushort* input, long count)
    {
        for (long i = 0; i < count; i++) output[i] = Fp16.ToFloat(input[i]);
    }

    const uint Rebias = 0x38000000, ExponentField = 0x0F800000, SmallestNormalFloat = 0x38800000; // 112 << 23; 0x7C00 << 13; 2^-14

    static Vector512<uint> WidenFp16(Vector512<uint> h)
    {
        var shifted = (h & Vector512.Create(0x7FFFu)) << 13;
        var exponent = shifted & Vector512.Create(ExponentField);
        var value = shifted + Vector512.Create(Rebias);
        value = Vector512.ConditionalSelect(Vector512.Equals(exponent, Vector512.Create(ExponentField)), value + Vector512.Create(Rebias), value);
        var subnormal = ((value + Vector512.Create(1u << 23)).AsSingle() - Vector512.Create(SmallestNormalFloat).AsSingle()).AsUInt32();
        value = Vector512.ConditionalSelect(Vector512.Equals(exponent, Vector512<uint>.Zero), subnormal, value);
        return value | ((h & Vector512.Create(0x8000u)) << 16);
    }

    static Vector256<uint> WidenFp16(Vector256<uint> h)
    {
        var shifted = (h & Vector256.Create(0x7FFFu)) << 13;
        var exponent = shifted & Vector256.Create(ExponentField);
        var value = shifted + Vector256.Create(Rebias);
        value = Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256.Create(ExponentField)), value + Vector256.Create(Rebias), value);
        var subnormal = ((value + Vector256.Create(1u << 23)).AsSingle() - Vector256.Create(SmallestNormalFloat).AsSingle()).AsUInt32();
        value = Vector256.ConditionalSelect(Vector256.Equals(exponent, Vector256<uint>.Zero), subnormal, value);
        return value | ((h & Vector256.Create(0x8000u)) << 16);
    }
}
