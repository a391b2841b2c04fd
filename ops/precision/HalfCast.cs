using Engine.Precision;

namespace Engine.Backends.Cpu.Ops;

/// <summary>fp32 ↔ bf16/fp16 over a buffer: the CPU twin of ops/precision/precision.cu's casts, element by element.</summary>
public static unsafe class HalfCast
{
    public static void ToHalf(ushort* output, float* input, long count, HalfFormat format) =>
        ParallelRows.ForChunks(count, (start, end) =>
        {
            // Branch once per chunk, not per element.
            if (format == HalfFormat.Bf16) for (long i = start; i < end; i++) output[i] = Bf16.FromFloat(input[i]);
            else for (long i = start; i < end; i++) output[i] = Fp16.FromFloat(input[i]);
        });

    public static void FromHalf(float* output, ushort* input, long count, HalfFormat format) =>
        ParallelRows.ForChunks(count, (start, end) =>
        {
            if (format == HalfFormat.Bf16) for (long i = start; i < end; i++) output[i] = Bf16.ToFloat(input[i]);
            else for (long i = start; i < end; i++) output[i] = Fp16.ToFloat(input[i]);
        });
}
