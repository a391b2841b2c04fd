using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// GELU in its exact form (BERT's "gelu"): x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)) the standard normal CDF; the
/// derivative is Φ(x) + x·φ(x) with φ the normal density.
/// </summary>
public static unsafe class GeluErf<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    const double InvSqrt2 = 0.7071067811865476, InvSqrt2Pi = 0.3989422804014327;

    public static void Forward(T* output, T* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                double x = double.CreateTruncating(input[i]);
                output[i] = T.CreateTruncating(x * 0.5 * (1 + Erf.Of(x * InvSqrt2)));
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
                double grad = 0.5 * (1 + Erf.Of(x * InvSqrt2)) + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);
                dInput[i] += T.CreateTruncating(grad * double.CreateTruncating(dOutput[i]));
            }
        });
    }
}
