using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// RMSNorm as T5's T5LayerNorm computes it: y = w · x / √(mean(x²) + ε), no mean subtracted, no bias. 1/rms is
/// saved for backward. Sums run in float64, so the float32 path stays well within 1e-6 of HF.
/// </summary>
public static unsafe class RmsNorm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward(T* output, T* rstd, T* input, T* weight, int N, int C, double epsilon)
    {
        ParallelRows.For(N, n =>
        {
            T* x = input + (long)n * C;
            double sq = 0;
            for (int i = 0; i < C; i++) { double v = double.CreateTruncating(x[i]); sq += v * v; }
            double r = 1.0 / Math.Sqrt(sq / C + epsilon);
            T* o = output + (long)n * C;
            for (int i = 0; i < C; i++) o[i] = T.CreateTruncating(double.CreateTruncating(weight[i]) * (double.CreateTruncating(x[i]) * r));
            rstd[n] = T.CreateTruncating(r);
        });
    }

    /// <summary>
    /// With x̂ = x·r and g = dOut·w: dInput += r·(g − x̂·mean(g·x̂)); dWeight += Σ_rows dOut·x̂. Rows in parallel for
    /// dInput; the weight sums run per column over all rows in order (deterministic).
    /// </summary>
    public static void Backward(T* dInput, T* dWeight, T* dOutput, T* input, T* weight, T* rstd, int N, int C)
    {
        ParallelRows.For(N, n =>
        {
            T* x = input + (long)n * C, d = dOutput + (long)n * C, dx = dInput + (long)n * C;
            double r = double.CreateTruncating(rstd[n]);
            double meanGx = 0;
            for (int i = 0; i < C; i++)
                meanGx += double.CreateTruncating(d[i]) * double.CreateTruncating(weight[i]) * double.CreateTruncating(x[i]) * r;
            meanGx /= C;
            for (int i = 0; i < C; i++)
            {
                double g = double.CreateTruncating(d[i]) * double.CreateTruncating(weight[i]);
                double xh = double.CreateTruncating(x[i]) * r;
                dx[i] += T.CreateTruncating(r * (g - xh * meanGx));
            }
        });
        ParallelRows.ForBlocks(C, 64, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double dw = 0;
                for (int n = 0; n < N; n++)
                    dw += double.CreateTruncating(dOutput[(long)n * C + i]) * double.CreateTruncating(input[(long)n * C + i]) * double.CreateTruncating(rstd[n]);
                dWeight[i] += T.CreateTruncating(dw);
            }
        });
    }
}
