using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 gated GELU for the CPU backend, same contract as the reference <see cref="GatedGelu{T}"/>: rows of
/// [gate (F) | linear (F)] in, gelu_tanh(gate)·linear out; backward accumulates into both halves (or overwrites them: <see cref="GradientWrite"/>). The GELU and its
/// derivative are <see cref="CpuGelu"/>'s (same error bound), vectorised along each row; blocks of whole rows
/// (about <see cref="CpuGelu.Chunk"/> elements) go to the threads.
/// </summary>
public static unsafe class CpuGatedGelu
{
    public static void Forward(float* output, float* input, int N, int F)
    {
        var level = Simd.Active;
        ParallelRows.ForBlocks(N, RowsPerBlock(F), (first, end) => ForwardRows(output, input, first, end, F, level));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardRows(float* output, float* input, int first, int end, int F, SimdLevel level)
    {
        for (int n = first; n < end; n++)
        {
            float* gate = input + (long)n * 2 * F, linear = gate + F, o = output + (long)n * F;
            int i = 0;
            if (level == SimdLevel.Vector512)
                for (; i + 16 <= F; i += 16) Vector512.Store(CpuGelu.Value(Vector512.Load(gate + i)) * Vector512.Load(linear + i), o + i);
            if (level >= SimdLevel.Vector256)
                for (; i + 8 <= F; i += 8) Vector256.Store(CpuGelu.Value(Vector256.Load(gate + i)) * Vector256.Load(linear + i), o + i);
            for (; i < F; i++) o[i] = CpuGelu.Value(gate[i]) * linear[i];
        }
    }

    public static void Backward(float* dInput, float* dOutput, float* input, int N, int F, GradientWrite write)
    {
        var level = Simd.Active;
        bool overwrite = write == GradientWrite.Overwrite;
        ParallelRows.ForBlocks(N, RowsPerBlock(F), (first, end) => BackwardRows(dInput, dOutput, input, first, end, F, level, overwrite));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardRows(float* dInput, float* dOutput, float* input, int first, int end, int F, SimdLevel level, bool overwrite)
    {
        for (int n = first; n < end; n++)
        {
            float* gate = input + (long)n * 2 * F, linear = gate + F, d = dOutput + (long)n * F;
            float* dGate = dInput + (long)n * 2 * F, dLinear = dGate + F;
            int i = 0;
            if (level == SimdLevel.Vector512)
                for (; i + 16 <= F; i += 16)
                {
                    var g = Vector512.Load(d + i);
                    var slope = CpuGelu.Derivative(Vector512.Load(gate + i), out var value);
                    GradientStore.Write(dGate + i, g * Vector512.Load(linear + i) * slope, overwrite);
                    GradientStore.Write(dLinear + i, g * value, overwrite);
                }
            if (level >= SimdLevel.Vector256)
                for (; i + 8 <= F; i += 8)
                {
                    var g = Vector256.Load(d + i);
                    var slope = CpuGelu.Derivative(Vector256.Load(gate + i), out var value);
                    GradientStore.Write(dGate + i, g * Vector256.Load(linear + i) * slope, overwrite);
                    GradientStore.Write(dLinear + i, g * value, overwrite);
                }
            for (; i < F; i++)
            {
                float g = d[i], slope = CpuGelu.Derivative(gate[i], out float value);
                GradientStore.Write(dGate + i, g * linear[i] * slope, overwrite);
                GradientStore.Write(dLinear + i, g * value, overwrite);
            }
        }
    }

    static int RowsPerBlock(int F) => Math.Max(1, CpuGelu.Chunk / Math.Max(1, F));
}
