using System.Numerics;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// T5 v1.1's gated GELU ("gated-gelu"): out = gelu_tanh(gate) ∘ linear, where each input row holds the two
/// projections side by side, [gate (F) | linear (F)] — wi_0 and wi_1 computed by one fused matrix product.
/// </summary>
public static unsafe class GatedGelu<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    const double Sqrt2OverPi = 0.7978845608028654;

    public static void Forward(T* output, T* input, int N, int F)
    {
        ParallelRows.For(N, n =>
        {
            T* gate = input + (long)n * 2 * F, linear = gate + F, o = output + (long)n * F;
            for (int i = 0; i < F; i++)
            {
                double x = double.CreateTruncating(gate[i]);
                o[i] = T.CreateTruncating(Gelu(x) * double.CreateTruncating(linear[i]));
            }
        });
    }

    /// <summary>dGate += dOut·linear·gelu'(gate); dLinear += dOut·gelu(gate) (accumulating, like every backward).</summary>
    public static void Backward(T* dInput, T* dOutput, T* input, int N, int F)
    {
        ParallelRows.For(N, n =>
        {
            T* gate = input + (long)n * 2 * F, linear = gate + F, d = dOutput + (long)n * F;
            T* dGate = dInput + (long)n * 2 * F, dLinear = dGate + F;
            for (int i = 0; i < F; i++)
            {
                double x = double.CreateTruncating(gate[i]), g = double.CreateTruncating(d[i]);
                double u = Sqrt2OverPi * (x + 0.044715 * x * x * x), th = Math.Tanh(u);
                double slope = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * Sqrt2OverPi * (1 + 3 * 0.044715 * x * x);
                dGate[i] += T.CreateTruncating(g * double.CreateTruncating(linear[i]) * slope);
                dLinear[i] += T.CreateTruncating(g * Gelu(x));
            }
        });
    }

    static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Sqrt2OverPi * (x + 0.044715 * x * x * x)));
}
