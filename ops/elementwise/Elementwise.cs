using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>Residual add and the reductions the optimizer needs.</summary>
public static unsafe class Elementwise<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Add(T* output, T* a, T* b, long count)
    {
        for (long i = 0; i < count; i++) output[i] = a[i] + b[i];
    }

    public static void Accumulate(T* destination, T* source, long count)
    {
        for (long i = 0; i < count; i++) destination[i] += source[i];
    }

    /// <summary>Σx² in float64, in index order (deterministic).</summary>
    public static double SumOfSquares(T* x, long count)
    {
        double sum = 0;
        for (long i = 0; i < count; i++) { double v = double.CreateTruncating(x[i]); sum += v * v; }
        return sum;
    }

    public static void Scale(T* x, long count, double factor)
    {
        T f = T.CreateTruncating(factor);
        for (long i = 0; i < count; i++) x[i] *= f;
    }
}
