using System.Runtime.InteropServices;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 RMSNorm for the CPU backend, same contract as the reference <see cref="RmsNorm{T}"/>
/// (y = w·x/√(mean(x²) + ε), 1/rms saved; backward accumulates): <see cref="CpuLayerNorm"/>'s loops with the mean
/// taken as 0 and no bias, the same fixed row blocks and in-order partial sums for dWeight.
/// </summary>
public static unsafe class CpuRmsNorm
{
    public static void Forward(float* output, float* rstd, float* input, float* weight, int N, int C, float epsilon)
    {
        var level = Simd.Active;
        ParallelRows.ForBlocks(N, CpuNormRows.RowsPerBlock(C), (first, end) =>
        {
            for (int n = first; n < end; n++)
            {
                float* x = input + (long)n * C;
                float r = 1f / MathF.Sqrt(CpuNormRows.SumOfSquaredDeviations(x, 0, C, level) / C + epsilon);
                CpuNormRows.Normalize(output + (long)n * C, x, 0, r, weight, null, C, level);
                rstd[n] = r;
            }
        });
    }

    /// <summary>With x̂ = x·r and g = dOut·w: dInput += r·(g − x̂·mean(g·x̂)); dWeight += Σ_rows dOut·x̂.</summary>
    public static void Backward(float* dInput, float* dWeight, float* dOutput, float* input, float* weight, float* rstd, int N, int C)
    {
        var level = Simd.Active;
        int rowsPerBlock = CpuNormRows.RowsPerBlock(C), blocks = (N + rowsPerBlock - 1) / rowsPerBlock;
        double* partials = (double*)NativeMemory.AllocZeroed((nuint)((long)blocks * C), sizeof(double));
        try
        {
            ParallelRows.For(blocks, k =>
            {
                double* dw = partials + (long)k * C;
                for (int n = k * rowsPerBlock, end = Math.Min(N, n + rowsPerBlock); n < end; n++)
                {
                    long at = (long)n * C;
                    double r = rstd[n];
                    CpuNormRows.GradientSums(dOutput + at, weight, input + at, 0, r, C, level, out _, out double sumGx);
                    CpuNormRows.InputGradient(dInput + at, dw, null, dOutput + at, weight, input + at, 0, r, 0, sumGx / C, C, level);
                }
            });
            CpuNormRows.AddPartials(dWeight, partials, blocks, C);
        }
        finally { NativeMemory.Free(partials); }
    }
}
