using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Kernels;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The exponential the attention rows use (VectorMath.Exp on Vector256) over the softmax's range, as
/// AttentionRows' doc states: within 1.5e-7 relative of float64 where e^x is a normal float, 0 below, 0 at −∞.</summary>
public unsafe class AttentionRowsTests
{
    [Fact]
    public void Exp_is_within_the_stated_error_over_the_softmax_range()
    {
        // A fine grid plus random points over [−104, 0] covers the polynomial's intervals, the range reduction's edges
        // and the cut to 0 below e^x's smallest normal.
        var rng = new Random(5);
        double worst = 0;
        var xs = new float[1 << 20];
        for (int i = 0; i < xs.Length; i++)
            xs[i] = i < xs.Length / 2 ? -104f * i / (xs.Length / 2) : (float)(-104 * rng.NextDouble());
        for (int i = 0; i < xs.Length; i += 8)
        {
            var e = VectorMath.Exp(Vector256.Create(xs, i));
            for (int l = 0; l < 8; l++)
            {
                double exact = Math.Exp(xs[i + l]);
                if (xs[i + l] < -87.3365447f) Assert.Equal(0f, e[l]); // ln(2^−126): below, e^x is no normal float and is cut to 0
                else worst = Math.Max(worst, Math.Abs(e[l] - exact) / exact);
            }
        }
        Assert.True(worst <= 1.5e-7, $"largest relative error {worst:E3}");
        Assert.Equal(0f, VectorMath.Exp(Vector256.Create(float.NegativeInfinity))[0]);
    }
}
