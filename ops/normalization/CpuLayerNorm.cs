using System.Runtime.InteropServices;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 LayerNorm for the CPU backend, same contract as the reference <see cref="LayerNorm{T}"/> (biased
/// variance, ε inside the square root, mean and 1/σ saved; backward accumulates). Forward: float32 row sums in fixed
/// lanes (<see cref="CpuNormRows"/>), the variance from the centred values (two passes, no cancellation). Backward
/// runs in float64 lanes like the reference (see <see cref="CpuNormRows.GradientSums"/> for why).
/// Rows go to the threads in fixed blocks (<see cref="CpuNormRows.RowsPerBlock"/>); in backward each block sums its
/// rows' dWeight and dBias shares into its own float64 partial row, and the partials are added in block order, so the
/// parameter gradients are the same for any thread count.
/// </summary>
public static unsafe class CpuLayerNorm
{
    public static void Forward(float* output, float* mean, float* rstd, float* input, float* weight, float* bias, int N, int C, float epsilon)
    {
        var level = Simd.Active;
        ParallelRows.ForBlocks(N, CpuNormRows.RowsPerBlock(C), (first, end) =>
        {
            for (int n = first; n < end; n++) Row(output + (long)n * C, mean + n, rstd + n, input + (long)n * C, weight, bias, C, epsilon, level);
        });
    }

    /// <summary>residual = a + b, then output = LayerNorm(residual), one row at a time (the row stays in cache).</summary>
    public static void ResidualForward(float* residual, float* output, float* mean, float* rstd, float* a, float* b, float* weight, float* bias, int N, int C, float epsilon)
    {
        var level = Simd.Active;
        ParallelRows.ForBlocks(N, CpuNormRows.RowsPerBlock(C), (first, end) =>
        {
            for (int n = first; n < end; n++)
            {
                long at = (long)n * C;
                CpuElementwise.AddRange(residual + at, a + at, b + at, C, level);
                Row(output + at, mean + n, rstd + n, residual + at, weight, bias, C, epsilon, level);
            }
        });
    }

    static void Row(float* o, float* mean, float* rstd, float* x, float* weight, float* bias, int C, float epsilon, SimdLevel level)
    {
        float mu = CpuNormRows.Sum(x, C, level) / C;
        float s = 1f / MathF.Sqrt(CpuNormRows.SumOfSquaredDeviations(x, mu, C, level) / C + epsilon);
        CpuNormRows.Normalize(o, x, mu, s, weight, bias, C, level);
        *mean = mu;
        *rstd = s;
    }

    /// <summary>dInput += (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dOut·weight; dWeight += Σ dOut·x̂; dBias += Σ dOut.</summary>
    public static void Backward(float* dInput, float* dWeight, float* dBias, float* dOutput, float* input, float* weight, float* mean, float* rstd, int N, int C)
    {
        var level = Simd.Active;
        int rowsPerBlock = CpuNormRows.RowsPerBlock(C), blocks = (N + rowsPerBlock - 1) / rowsPerBlock;
        long partialCount = (long)blocks * C;
        // One dWeight partial row per block, then (with a bias) one dBias partial row per block.
        double* partials = (double*)NativeMemory.AllocZeroed((nuint)(dBias == null ? partialCount : 2 * partialCount), sizeof(double));
        try
        {
            ParallelRows.For(blocks, k =>
            {
                double* dw = partials + (long)k * C, db = dBias == null ? null : partials + partialCount + (long)k * C;
                for (int n = k * rowsPerBlock, end = Math.Min(N, n + rowsPerBlock); n < end; n++)
                {
                    long at = (long)n * C;
                    double mu = mean[n], s = rstd[n];
                    CpuNormRows.GradientSums(dOutput + at, weight, input + at, mu, s, C, level, out double sumG, out double sumGx);
                    CpuNormRows.InputGradient(dInput + at, dw, db, dOutput + at, weight, input + at, mu, s, sumG / C, sumGx / C, C, level);
                }
            });
            CpuNormRows.AddPartials(dWeight, partials, blocks, C);
            if (dBias != null) CpuNormRows.AddPartials(dBias, partials + partialCount, blocks, C);
        }
        finally { NativeMemory.Free(partials); }
    }
}
