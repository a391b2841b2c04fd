using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The softmax cross-entropy on 16-bit logits: the bf16 and fp16 entries against the CPU's staged ops
/// (<see cref="HalfStoragePair"/>: one 16-bit ulp plus 1e-5 of the largest magnitude for a 16-bit output, 1e-5 for an
/// fp32 one; nothing staged on the GPU). Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class ClassifierHalfStorageTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void The_classifier_reads_16_bit_logits_and_writes_16_bit_dlogits(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 3 + (int)format);
        const int N = 37, V = 259, paddedV = 264;
        var targets = Enumerable.Range(0, N).Select(i => i % 9 == 4 ? -100 : p.Rng.Next(V)).ToArray();
        var t = p.Ints(targets);
        var losses = p.Fp32(Enumerable.Repeat(float.NaN, N).ToArray());
        var logits = p.Stored(p.RandomArray(N * paddedV, 4));
        double cpu = p.Cpu.SoftmaxCrossEntropy(logits.C, losses.C, t.C, N, V, paddedV, 0);
        double gpu = p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, t.G, N, V, paddedV, 0);
        Assert.True(Math.Abs(cpu - gpu) <= 1e-5 * Math.Abs(cpu), $"loss sum: GPU {gpu}, CPU {cpu}");
        p.AssertClose(losses, "losses (fp32)");

        cpu = p.Cpu.SoftmaxCrossEntropy(logits.C, losses.C, t.C, N, V, paddedV, 1f / N);
        gpu = p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, t.G, N, V, paddedV, 1f / N);
        Assert.True(Math.Abs(cpu - gpu) <= 1e-5 * Math.Abs(cpu), $"loss sum with gradient: GPU {gpu}, CPU {cpu}");
        p.AssertHalfClose(logits, "dlogits (written over the logits, padded columns 0)");
        p.AssertNothingStaged();
    }
}
