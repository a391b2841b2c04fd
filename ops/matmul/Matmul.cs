using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// The straightforward matrix product in any float type, summing in float64. It is the reference the fast float32
/// kernels (Kernels/CpuMatmul) are tested against and the path float64 finite-difference checks run through.
/// </summary>
public static unsafe class Matmul<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward(T* output, T* input, T* weight, T* bias, int N, int C, int OC)
    {
        ParallelRows.For(N, n =>
        {
            T* x = input + (long)n * C;
            for (int o = 0; o < OC; o++)
            {
                T* w = weight + (long)o * C;
                double sum = bias == null ? 0 : double.CreateTruncating(bias[o]);
                for (int i = 0; i < C; i++) sum += double.CreateTruncating(x[i]) * double.CreateTruncating(w[i]);
                output[(long)n * OC + o] = T.CreateTruncating(sum);
            }
        });
    }

    public static void Backward(T* dInput, T* dWeight, T* dBias, T* dOutput, T* input, T* weight, int N, int C, int OC)
    {
        if (dInput != null)
            ParallelRows.For(N, n =>
            {
                T* d = dOutput + (long)n * OC;
                for (int i = 0; i < C; i++)
                {
                    double sum = 0;
                    for (int o = 0; o < OC; o++) sum += double.CreateTruncating(d[o]) * double.CreateTruncating(weight[(long)o * C + i]);
                    dInput[(long)n * C + i] += T.CreateTruncating(sum);
                }
            });
        ParallelRows.For(OC, o =>
        {
            for (int i = 0; i < C; i++)
            {
                double sum = 0;
                for (int n = 0; n < N; n++) sum += double.CreateTruncating(dOutput[(long)n * OC + o]) * double.CreateTruncating(input[(long)n * C + i]);
                dWeight[(long)o * C + i] += T.CreateTruncating(sum);
            }
            if (dBias != null)
            {
                double sum = 0;
                for (int n = 0; n < N; n++) sum += double.CreateTruncating(dOutput[(long)n * OC + o]);
                dBias[o] += T.CreateTruncating(sum);
            }
        });
    }
}
