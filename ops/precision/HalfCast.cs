using System.Runtime.Intrinsics;
using Engine.Precision;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// fp32 ↔ bf16/fp16 over a buffer: the CPU twin of ops/precision/precision.cu's casts, bit for bit the element helpers
/// <see cref="Bf16"/> and <see cref="Fp16"/>. bf16 is vectorised (Vector512, else Vector256, else scalar: the same
/// integer rounding in every lane, so every width gives the same bits); fp16 goes element by element. Chunks of the
/// buffer run in parallel; each element is converted on its own, so the thread count cannot change a result.
/// </summary>
public static unsafe class HalfCast
{
    /// <summary>The vector width the bf16 loops use on this CPU: 512, 256 or 0 (scalar).</summary>
    public static int DetectedWidth =>
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 0;

    const int Chunk = 32768; // elements per parallel piece: 64–128 KiB each way, large enough to hide a task's cost

    public static void ToHalf(ushort* output, float* input, long count, HalfFormat format) => ToHalf(output, input, count, format, DetectedWidth);

    public static void FromHalf(float* output, ushort* input, long count, HalfFormat format) => FromHalf(output, input, count, format, DetectedWidth);

    /// <summary><see cref="ToHalf(ushort*, float*, long, HalfFormat)"/> with the bf16 loop's vector width forced
    /// (512, 256, or 0 for scalar): the tests run every path on any CPU (.NET emulates a width the CPU lacks).</summary>
    public static void ToHalf(ushort* output, float* input, long count, HalfFormat format, int width) =>
        ParallelRows.ForChunks(count, (start, end) =>
        {
            // Branch once per chunk, not per element.
            if (format == HalfFormat.Bf16) ToBf16(output + start, input + start, end - start, width);
            else for (long i = start; i < end; i++) output[i] = Fp16.FromFloat(input[i]);
        }, Chunk);

    /// <summary><see cref="FromHalf(float*, ushort*, long, HalfFormat)"/> with the bf16 loop's vector width forced.</summary>
    public static void FromHalf(float* output, ushort* input, long count, HalfFormat format, int width) =>
        ParallelRows.ForChunks(count, (start, end) =>
        {
            if (format == HalfFormat.Bf16) FromBf16(output + start, input + start, end - start, width);
            else for (long i = start; i < end; i++) output[i] = Fp16.ToFloat(input[i]);
        }, Chunk);

    // Round to nearest even as Bf16.FromFloat does: add 0x7FFF plus the lowest kept bit, keep the top half; NaN first.
    static void ToBf16(ushort* output, float* input, long count, int width)
    {
        long i = 0;
        if (width == 512)
            for (; i + 32 <= count; i += 32)
            {
                var lo = RoundToBf16(Vector512.Load(input + i));
                var hi = RoundToBf16(Vector512.Load(input + i + 16));
                Vector512.Narrow(lo, hi).Store(output + i);
            }
        else if (width == 256)
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
    static void FromBf16(float* output, ushort* input, long count, int width)
    {
        long i = 0;
        if (width == 512)
            for (; i + 32 <= count; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(input + i));
                (lo << 16).AsSingle().Store(output + i);
                (hi << 16).AsSingle().Store(output + i + 16);
            }
        else if (width == 256)
            for (; i + 16 <= count; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(input + i));
                (lo << 16).AsSingle().Store(output + i);
                (hi << 16).AsSingle().Store(output + i + 8);
            }
        for (; i < count; i++) output[i] = Bf16.ToFloat(input[i]);
    }
}
