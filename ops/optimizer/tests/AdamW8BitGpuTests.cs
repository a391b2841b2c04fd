using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tests.Backends.Cpu.Ops;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// 8-bit AdamW's kernels (adamw8bit.cu) against the CPU twin, bit for bit: weights, the 16-bit copy, codes and absmax
/// after several steps, on a piece whose first block is partial (an FSDP piece starting inside a grid cell) and a
/// last block that is short, with a zero block in between (absmax 0). Both sides do the same fp32 operations in the
/// same order without fused multiply-adds, and the block maximum ignores order. Skipped with "no CUDA device".
/// </summary>
[Trait("Category", "GPU")]
public class AdamW8BitGpuTests
{
    static void AssertSameBits(float[] cpu, float[] gpu, string what)
    {
        for (int i = 0; i < cpu.Length; i++)
            if (BitConverter.SingleToUInt32Bits(cpu[i]) != BitConverter.SingleToUInt32Bits(gpu[i]))
                Assert.Fail($"{what}[{i}]: GPU {gpu[i]:R}, CPU {cpu[i]:R}");
    }

    [Theory]
    [InlineData(null)]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Steps_match_the_CPU_bit_for_bit(HalfFormat? format)
    {
        const int n = 7000, first = 1000; // blocks: 1000, 2048, 2048, 1904
        using var p = Open(n + (int)(format ?? 0));
        var (mc, vc, ma, va) = AdamW8BitTests.QuantizedState(n, first, seed: 4);
        var weights = p.Upload(p.RandomArray(n));
        var (m, v, am, av) = (p.Upload(mc), p.Upload(vc), p.Upload(ma), p.Upload(va));
        var mapM = p.Upload(DynamicQuantizationMap.Signed());
        var mapV = p.Upload(DynamicQuantizationMap.Unsigned());
        var copy = p.Upload(Enumerable.Repeat(HalfPoison, n).ToArray());
        for (int step = 1; step <= 3; step++)
        {
            var gradients = p.RandomArray(n, 0.01);
            for (int i = first + 2048; i < first + 4096; i++) gradients[i] = 0; // block 2 decays towards zero
            var g = p.Upload(gradients);
            if (format is HalfFormat f)
            {
                p.Cpu.AdamW8BitMixed(weights.C, copy.C, f, g.C, m.C, v.C, am.C, av.C, mapM.C, mapV.C, first, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                p.Gpu.AdamW8BitMixed(weights.G, copy.G, f, g.G, m.G, v.G, am.G, av.G, mapM.G, mapV.G, first, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
            }
            else
            {
                p.Cpu.AdamW8Bit(weights.C, g.C, m.C, v.C, am.C, av.C, mapM.C, mapV.C, first, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                p.Gpu.AdamW8Bit(weights.G, g.G, m.G, v.G, am.G, av.G, mapM.G, mapV.G, first, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
            }
        }
        var (wc, wg) = p.Download(weights);
        AssertSameBits(wc, wg, "weights");
        Assert.Equal(p.Download(m).Cpu, p.Download(m).Gpu);
        Assert.Equal(p.Download(v).Cpu, p.Download(v).Gpu);
        AssertSameBits(p.Download(am).Cpu, p.Download(am).Gpu, "first moment absmax");
        AssertSameBits(p.Download(av).Cpu, p.Download(av).Gpu, "second moment absmax");
        if (format != null) Assert.Equal(p.Download(copy).Cpu, p.Download(copy).Gpu);
    }
}
