using Engine.Backends.Cpu.Ops;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 gated GELU for the CPU backend, same contract as the reference <see cref="GatedGelu{T}"/>: rows of
/// [gate (F) | linear (F)] in, gelu_tanh(gate)·linear out; backward accumulates into both halves. The tanh goes
/// through <see cref="CpuGelu"/>'s cancellation-free exp(−2|u|) form, vectorised per row segment.
/// </summary>
public static unsafe class CpuGatedGelu
{
    public static void Forward(float* output, float* input, int N, int F)
    {
        ParallelRows.For(N, n =>
        {
            Span<float> scratch = stackalloc float[CpuGelu.Chunk];
            float* gate = input + (long)n * 2 * F, linear = gate + F, o = output + (long)n * F;
            for (int at = 0; at < F; at += CpuGelu.Chunk)
            {
                int count = Math.Min(CpuGelu.Chunk, F - at);
                var x = new ReadOnlySpan<float>(gate + at, count);
                var e = CpuGelu.ExpOfMinusTwiceAbsU(x, scratch[..count]);
                for (int i = 0; i < count; i++) o[at + i] = 0.5f * x[i] * CpuGelu.OnePlusTanh(x[i], e[i]) * linear[at + i];
            }
        });
    }

    public static void Backward(float* dInput, float* dOutput, float* input, int N, int F)
    {
        ParallelRows.For(N, n =>
        {
            Span<float> scratch = stackalloc float[CpuGelu.Chunk];
            float* gate = input + (long)n * 2 * F, linear = gate + F, d = dOutput + (long)n * F;
            float* dGate = dInput + (long)n * 2 * F, dLinear = dGate + F;
            for (int at = 0; at < F; at += CpuGelu.Chunk)
            {
                int count = Math.Min(CpuGelu.Chunk, F - at);
                var x = new ReadOnlySpan<float>(gate + at, count);
                var e = CpuGelu.ExpOfMinusTwiceAbsU(x, scratch[..count]);
                for (int i = 0; i < count; i++)
                {
                    float xi = x[i], ei = e[i], onePlusE = 1 + ei;
                    float sech2 = 4 * ei / (onePlusE * onePlusE);
                    float du = CpuGelu.Sqrt2OverPi * (1 + 3 * CpuGelu.Cubic * xi * xi);
                    float onePlusTanh = CpuGelu.OnePlusTanh(xi, ei);
                    float g = d[at + i];
                    dGate[at + i] += g * linear[at + i] * (0.5f * onePlusTanh + 0.5f * xi * sech2 * du);
                    dLinear[at + i] += g * 0.5f * xi * onePlusTanh;
                }
            }
        });
    }
}
