using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// LayerNorm over the last dimension with the biased variance, epsilon inside the square root (torch's definition).
/// Mean and 1/σ are saved for backward. Sums run in float64 so the float32 path stays within 1e-6 of HF.
/// </summary>
public static unsafe class LayerNorm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward(T* output, T* mean, T* rstd, T* input, T* weight, T* bias, int N, int C, double epsilon)
    {
        ParallelRows.For(N, n =>
        {
            T* x = input + (long)n * C;
            double sum = 0;
            for (int i = 0; i < C; i++) sum += double.CreateTruncating(x[i]);
            double mu = sum / C;
            double sq = 0;
            for (int i = 0; i < C; i++) { double d = double.CreateTruncating(x[i]) - mu; sq += d * d; }
            double s = 1.0 / Math.Sqrt(sq / C + epsilon);
            T* o = output + (long)n * C;
            for (int i = 0; i < C; i++)
            {
                double normalized = (double.CreateTruncating(x[i]) - mu) * s;
                double w = double.CreateTruncating(weight[i]);
                double bb = bias == null ? 0 : double.CreateTruncating(bias[i]);
                o[i] = T.CreateTruncating(normalized * w + bb);
            }
            mean[n] = T.CreateTruncating(mu);
            rstd[n] = T.CreateTruncating(s);
        });
    }

    /// <summary>
    /// dInput += (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dOut·weight; dWeight += Σ dOut·x̂; dBias += Σ dOut.
    /// Rows run in parallel for dInput; the parameter sums run per column over all rows in order (deterministic).
    /// </summary>
    public static void Backward(T* dInput, T* dWeight, T* dBias, T* dOutput, T* input, T* weight, T* mean, T* rstd, int N, int C)
    {
        ParallelRows.For(N, n =>
        {
            T* x = input + (long)n * C;
            T* d = dOutput + (long)n * C;
            T* dx = dInput + (long)n * C;
            double mu = double.CreateTruncating(mean[n]), s = double.CreateTruncating(rstd[n]);
            double meanG = 0, meanGx = 0;
            for (int i = 0; i < C; i++)
            {
                double g = double.CreateTruncating(d[i]) * double.CreateTruncating(weight[i]);
                double xh = (double.CreateTruncating(x[i]) - mu) * s;
                meanG += g; meanGx += g * xh;
            }
            meanG /= C; meanGx /= C;
            for (int i = 0; i < C; i++)
            {
                double g = double.CreateTruncating(d[i]) * double.CreateTruncating(weight[i]);
                double xh = (double.CreateTruncating(x[i]) - mu) * s;
                dx[i] += T.CreateTruncating(s * (g - meanG - xh * meanGx));
            }
        });
        ParallelRows.ForBlocks(C, 64, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double dw = 0, db = 0;
                for (int n = 0; n < N; n++)
                {
                    double dv = double.CreateTruncating(dOutput[(long)n * C + i]);
                    double xh = (double.CreateTruncating(input[(long)n * C + i]) - double.CreateTruncating(mean[n])) * double.CreateTruncating(rstd[n]);
                    dw += dv * xh; db += dv;
                }
                dWeight[i] += T.CreateTruncating(dw);
                if (dBias != null) dBias[i] += T.CreateTruncating(db);
            }
        });
    }
}
