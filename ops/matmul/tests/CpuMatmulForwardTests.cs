using Engine.Backends.Cpu.Kernels;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

[Collection(CpuMatmulCollection.Name)]
public class CpuMatmulForwardTests
{
    /// <summary>Odd sizes hit every tail: below, at and just past MR/NR/vector widths, and past KC = 256.</summary>
    public static readonly int[] OddSizes = [1, 3, 17, 63, 65, 257];

    public static TheoryData<int> Ns => new(OddSizes);

    [Theory]
    [MemberData(nameof(Ns))]
    public void MatchesFloat64Reference_AllOddShapes_WithAndWithoutBias(int n)
    {
        foreach (int c in OddSizes)
            foreach (int oc in OddSizes)
            {
                using var lc = new LinearCase(n, c, oc, seed: n * 7919 + c * 31 + oc);
                foreach (bool withBias in new[] { true, false })
                {
                    // Output pre-filled with NaN: any element the kernel forgot to write stays NaN and fails.
                    float[] got = lc.Forward(withBias, prefill: float.NaN);
                    var (want, mag) = ReferenceMatmul.Forward(lc.Input.ToArray(), lc.Weight.ToArray(),
                        withBias ? lc.Bias.ToArray() : null, n, c, oc);
                    MatmulAssert.Close(got, want, mag, c, $"forward {lc} bias={withBias}");
                }
            }
    }

    [Fact]
    public void MatchesReference_ShapeSpanningSeveralCacheBlocks()
    {
        // > MC rows, > NC columns and > 2·KC of K for every kernel family: exercises every block loop and tail.
        using var lc = new LinearCase(150, 601, 1100, seed: 5);
        float[] got = lc.Forward(withBias: true);
        var (want, mag) = ReferenceMatmul.Forward(lc.Input.ToArray(), lc.Weight.ToArray(), lc.Bias.ToArray(), 150, 601, 1100);
        MatmulAssert.Close(got, want, mag, 601, $"forward {lc}");
    }

    [Fact]
    public void OverwritesEveryElement_IgnoringPreviousContents()
    {
        using var lc = new LinearCase(67, 45, 259, seed: 11);
        float[] fromNaN = lc.Forward(withBias: true, prefill: float.NaN);
        float[] fromJunk = lc.Forward(withBias: true, prefill: 12345f);
        Assert.DoesNotContain(fromNaN, float.IsNaN);
        MatmulAssert.BitIdentical(fromNaN, fromJunk, "forward must not read its output");
    }

    [Fact]
    public unsafe void ZeroInnerDimension_WritesBiasOrZero()
    {
        using var bias = NativeBuffer.Random(5, new Random(3));
        using var output = NativeBuffer.Filled(4 * 5, float.NaN);
        CpuMatmul.Forward(output.Ptr, null, null, bias.Ptr, 4, 0, 5);
        for (int i = 0; i < 20; i++) Assert.Equal(bias.Ptr[i % 5], output.Ptr[i]);
        CpuMatmul.Forward(output.Ptr, null, null, null, 4, 0, 5);
        Assert.All(output.ToArray(), v => Assert.Equal(0f, v));
    }
}
