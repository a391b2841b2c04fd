using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The fused softmax cross-entropy (losses and dlogits) on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class ClassifierGpuTests
{
    [Fact]
    public void Softmax_cross_entropy_with_padding_and_ignored_rows()
    {
        using var p = Open(6);
        const int N = 9, V = 13, paddedV = 16;
        var logits = p.Upload(p.RandomArray(N * paddedV, 4));
        int[] targetValues = Enumerable.Range(0, N).Select(i => i % 4 == 3 ? -100 : p.Rng.Next(V)).ToArray();
        var targets = p.Upload(targetValues);
        var losses = p.Poisoned(N);
        double cpu = p.Cpu.SoftmaxCrossEntropy(logits.C, losses.C, targets.C, N, V, paddedV, 0.25f);
        double gpu = p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, targets.G, N, V, paddedV, 0.25f);
        Assert.True(Math.Abs(gpu - cpu) <= 1e-5 * Math.Abs(cpu), $"loss sum GPU {gpu} vs CPU {cpu}");
        p.AssertClose(losses, "losses");
        p.AssertClose(logits, "d logits");

        var bad = p.Upload(Enumerable.Range(0, N).Select(i => i == 4 ? V : 0).ToArray());
        var e = Assert.Throws<EngineException>(() => p.Gpu.SoftmaxCrossEntropy(logits.G, losses.G, bad.G, N, V, paddedV, 1f));
        Assert.Contains($"target token id {V} at row 4", e.Message);
    }
}
