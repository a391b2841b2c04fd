using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Kernels;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The exponential the attention rows use (Vector256.Exp) against float64 Math.Exp, as its doc states.</summary>
public unsafe class AttentionRowsTests
{
    [Fact]
    public void Exp_is_within_the_stated_error_over_the_softmax_range()
    {
        // Every float in [−104, 0] takes about a minute; a fine grid plus random points covers the polynomial's
        // intervals and the range reduction's edges.
        var rng = new Random(5);
        double worst = 0;
        var xs = new float[1 << 20];
        for (int i = 0; i < xs.Length; i++)
            xs[i] = i < xs.Length / 2 ? -104f * i / (xs.Length / 2) : (float)(-104 * rng.NextDouble());
        for (int i = 0; i < xs.Length; i += 8)
        {
            var e = Vector256.Exp(Vector256.Create(xs, i));
            for (int l = 0; l < 8; l++)
            {
                double exact = Math.Exp(xs[i + l]);
                if (exact < 1.2e-38) continue; // float denormals: relative error is not the measure there
                worst = Math.Max(worst, Math.Abs(e[l] - exact) / exact);
            }
        }
        // The doc's 1.49e-7 is the maximum over every float in the range on an AVX-512 machine; the bound leaves
        // room for Vector256.Exp's evaluation without FMA on older CPUs (other roundings), still under 2 ulp.
        Assert.True(worst <= 2e-7, $"largest relative error {worst:E3}");
        Assert.Equal(0f, Vector256.Exp(Vector256.Create(float.NegativeInfinity))[0]);
    }
}
