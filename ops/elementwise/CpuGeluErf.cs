using System.Numerics.Tensors;
using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 exact GELU (x·Φ(x), BERT's "gelu") for the CPU backend, same contract as the reference
/// <see cref="GeluErf{T}"/>. Φ comes from erfc: Φ(x) = ½·erfc(−x/√2), with erfc(z) = t·exp(−z² + P(t)),
/// t = 1/(1 + |z|/2) and P the degree-9 Chebyshev-fitted polynomial of Numerical Recipes (§6.2, "erfcc"), whose
/// fractional error is below 1.2e-7 everywhere. Working from erfc keeps the left tail (where Φ is tiny) accurate
/// to that relative error instead of losing it to 1 + erf cancellation. The exponentials go through
/// TensorPrimitives' vectorized exp, chunk by chunk.
/// </summary>
public static unsafe class CpuGeluErf
{
    const float InvSqrt2 = 0.70710678f, InvSqrt2Pi = 0.39894228f;
    const int Chunk = 4096;

    public static void Forward(float* output, float* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            Span<float> e = stackalloc float[Chunk];
            Span<float> t = stackalloc float[Chunk];
            for (long at = start; at < end; at += Chunk)
            {
                int n = (int)Math.Min(Chunk, end - at);
                var x = new ReadOnlySpan<float>(input + at, n);
                NormalCdf(x, e[..n], t[..n]);
                var y = new Span<float>(output + at, n);
                for (int i = 0; i < n; i++) y[i] = x[i] * e[i];
            }
        });
    }

    public static void Backward(float* dInput, float* dOutput, float* input, long count)
    {
        ParallelRows.ForChunks(count, (start, end) =>
        {
            Span<float> cdf = stackalloc float[Chunk];
            Span<float> pdf = stackalloc float[Chunk];
            for (long at = start; at < end; at += Chunk)
            {
                int n = (int)Math.Min(Chunk, end - at);
                var x = new ReadOnlySpan<float>(input + at, n);
                NormalCdf(x, cdf[..n], pdf[..n]);
                for (int i = 0; i < n; i++) pdf[i] = -0.5f * x[i] * x[i];
                TensorPrimitives.Exp(pdf[..n], pdf[..n]);
                var dx = new Span<float>(dInput + at, n);
                var dy = new ReadOnlySpan<float>(dOutput + at, n);
                for (int i = 0; i < n; i++) dx[i] += (cdf[i] + x[i] * InvSqrt2Pi * pdf[i]) * dy[i];
            }
        });
    }

    /// <summary>cdf[i] = Φ(x[i]); scratch receives t and is overwritten.</summary>
    static void NormalCdf(ReadOnlySpan<float> x, Span<float> cdf, Span<float> scratch)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float z = MathF.Abs(x[i]) * InvSqrt2;
            float t = 1f / (1f + 0.5f * z);
            scratch[i] = t;
            cdf[i] = -z * z - 1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                     t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
        }
        TensorPrimitives.Exp(cdf, cdf);
        for (int i = 0; i < x.Length; i++)
        {
            float erfcOfAbs = scratch[i] * cdf[i]; // erfc(|x|/√2)
            cdf[i] = x[i] >= 0 ? 1 - 0.5f * erfcOfAbs : 0.5f * erfcOfAbs;
        }
    }
}
