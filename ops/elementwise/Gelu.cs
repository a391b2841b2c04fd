using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>GELU in its tanh form (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
public static unsafe class GeluTanh<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    const double Sqrt2OverPi = 0.7978845608028654;

    public static void Forward(T* output, T* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                double x = double.CreateTruncating(input[i]);
                output[i] = T.CreateTruncating(0.5 * x * (1 + Math.Tanh(Sqrt2OverPi * (x + 0.044715 * x * x * x))));
            }
        });
    }

    public static void Backward(T* dInput, T* dOutput, T* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                double x = double.CreateTruncating(input[i]);
                double u = Sqrt2OverPi * (x + 0.044715 * x * x * x);
                double th = Math.Tanh(u);
                double du = Sqrt2OverPi * (1 + 3 * 0.044715 * x * x);
                double grad = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du;
                dInput[i] += T.CreateTruncating(grad * double.CreateTruncating(dOutput[i]));
            }
        });
    }
}
