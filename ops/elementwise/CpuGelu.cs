using System.Numerics.Tensors;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 GELU (tanh form) for the CPU backend, same contract as the reference <see cref="GeluTanh{T}"/>
/// (backward accumulates into dInput). The tanh goes through e = exp(−2|u|) (TensorPrimitives' vectorized exp,
/// chunk by chunk through a small per-task scratch): then 1 + tanh(u) and 1 − tanh²(u) come out without the
/// cancellation that float32 tanh suffers near ±1, where GELU's left tail and its derivative live.
/// </summary>
public static unsafe class CpuGelu
{
    internal const float Sqrt2OverPi = 0.7978845608028654f;
    internal const float Cubic = 0.044715f;
    internal const int Chunk = 4096;

    public static void Forward(float* output, float* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            Span<float> th = stackalloc float[Chunk];
            for (long at = start; at < end; at += Chunk)
            {
                int n = (int)Math.Min(Chunk, end - at);
                var x = new ReadOnlySpan<float>(input + at, n);
                var e = ExpOfMinusTwiceAbsU(x, th[..n]);
                var y = new Span<float>(output + at, n);
                for (int i = 0; i < n; i++) y[i] = 0.5f * x[i] * OnePlusTanh(x[i], e[i]);
            }
        });
    }

    public static void Backward(float* dInput, float* dOutput, float* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            Span<float> th = stackalloc float[Chunk];
            for (long at = start; at < end; at += Chunk)
            {
                int n = (int)Math.Min(Chunk, end - at);
                var x = new ReadOnlySpan<float>(input + at, n);
                var e = ExpOfMinusTwiceAbsU(x, th[..n]);
                var dx = new Span<float>(dInput + at, n);
                var dy = new ReadOnlySpan<float>(dOutput + at, n);
                for (int i = 0; i < n; i++)
                {
                    float xi = x[i], ei = e[i], onePlusE = 1 + ei;
                    float sech2 = 4 * ei / (onePlusE * onePlusE); // 1 − tanh²(u)
                    float du = Sqrt2OverPi * (1 + 3 * Cubic * xi * xi);
                    dx[i] += (0.5f * OnePlusTanh(xi, ei) + 0.5f * xi * sech2 * du) * dy[i];
                }
            }
        });
    }

    /// <summary>e[i] = exp(−2|u(x[i])|) with u = √(2/π)(x + 0.044715x³); u has the sign of x.</summary>
    internal static Span<float> ExpOfMinusTwiceAbsU(ReadOnlySpan<float> x, Span<float> e)
    {
        for (int i = 0; i < x.Length; i++) e[i] = -2 * MathF.Abs(Sqrt2OverPi * (x[i] + Cubic * x[i] * x[i] * x[i]));
        TensorPrimitives.Exp(e, e);
        return e;
    }

    /// <summary>1 + tanh(u) = 2/(1 + e) for u ≥ 0 and 2e/(1 + e) for u &lt; 0, with e = exp(−2|u|).</summary>
    internal static float OnePlusTanh(float x, float e) => (x >= 0 ? 2 : 2 * e) / (1 + e);
}
