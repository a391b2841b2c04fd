using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The flash-style GPU attention (no T×T matrix) against the CPU twin: same output and same qkv gradient, for
/// causal and bidirectional attention, T not a multiple of the 32-row tile, head sizes that are and are not
/// multiples of 32. Tolerance 1e-5 of the largest magnitude (fp32 both sides; the online softmax rescales
/// partial sums, a few ulps). Skipped with "no CUDA device" where there is none.
/// </summary>
public class FlashAttentionTests
{
    [Theory]
    [InlineData(2, 45, 36, 3, true)]   // head size 12
    [InlineData(1, 70, 128, 2, true)]  // head size 64, three tiles
    [InlineData(2, 33, 64, 4, false)]  // bidirectional
    public void Output_and_gradient_match_the_CPU(int B, int T, int C, int heads, bool causal)
    {
        Gpu.Require();
        using var cpu = new CpuBackend();
        using var gpu = new CudaBackend();
        var rng = new Random(B * 100 + T);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var qkv = Rand(B * T * 3 * C);
        var dout = Rand(B * T * C);
        var dqkvStart = Rand(B * T * 3 * C);

        var cq = Up(cpu, qkv); var cOut = cpu.Allocate<float>(B * T * C, "t"); var cProbs = cpu.Allocate<float>((long)B * heads * T * T, "t");
        var cd = Up(cpu, dout); var cdq = Up(cpu, dqkvStart);
        var shape = AttentionShape.Packed(B, T, C, heads, causal);
        Slice<float> At(Slice<float> x, int column) => x.Sub(column, x.Length - column);
        cpu.AttentionForward(shape, cOut, cProbs, cq, At(cq, C), At(cq, 2 * C), Slice<int>.Empty, Slice<float>.Empty);
        cpu.AttentionBackward(shape, cdq, At(cdq, C), At(cdq, 2 * C), Slice<float>.Empty, cd, cq, At(cq, C), At(cq, 2 * C), cProbs);

        var gq = Up(gpu, qkv); var gOut = Up(gpu, Enumerable.Repeat(float.NaN, B * T * C).ToArray());
        var gLse = Up(gpu, Enumerable.Repeat(float.NaN, B * heads * T).ToArray());
        var gd = Up(gpu, dout); var gdq = Up(gpu, dqkvStart);
        gpu.FlashAttentionForward(gOut, gLse, gq, Slice<int>.Empty, B, T, C, heads, causal);
        gpu.FlashAttentionBackward(gdq, gd, gq, gOut, gLse, Slice<int>.Empty, B, T, C, heads, causal);

        Close(Down(cpu, cOut), Down(gpu, gOut), "output");
        Close(Down(cpu, cdq), Down(gpu, gdq), "d qkv");
    }

    static Slice<float> Up(Engine.Tensors.IBackend backend, float[] data)
    {
        var s = backend.Allocate<float>(data.Length, "test");
        backend.CopyIn<float>(data, s);
        return s;
    }

    static float[] Down(Engine.Tensors.IBackend backend, Slice<float> s)
    {
        var a = new float[s.Length];
        backend.CopyOut(s, a);
        return a;
    }

    static void Close(float[] expected, float[] actual, string what)
    {
        double scale = expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs((double)actual[i] - expected[i]) <= 1e-5 * scale))
                Assert.Fail($"{what}[{i}]: GPU {actual[i]:R}, CPU {expected[i]:R}");
    }
}
