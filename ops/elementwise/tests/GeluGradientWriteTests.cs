using Engine.Backends.Cpu;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Backends.Mixed;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// The GELU family's backward overwriting its input gradient (<see cref="GradientWrite.Overwrite"/>, what the models
/// ask of a fresh buffer) against zeroing it and accumulating, the models' old order: on the CPU in fp32 on every
/// vector path, on bf16 storage staged through fp32 (mixed precision over the CPU), and on the GPU in fp32 and on its
/// bf16 kernels (skipped where there is no CUDA device).
/// </summary>
public class GeluGradientWriteTests
{
    /// <summary>Runs each of the three backward ops through <paramref name="check"/> on random inputs of N rows.</summary>
    static void EachOp(IBackend b, StorageFormat storage, int N, int F, Random rng, string where)
    {
        long n = (long)N * F;
        var x = GradientWriteCheck.Random(b, n, storage, rng, scale: 5);
        var dy = GradientWriteCheck.Random(b, n, storage, rng);
        GradientWriteCheck.AssertOverwriteIsZeroPlusAccumulate(b, n, storage, (dx, write) => b.GeluBackward(dx, dy, x, write), $"{where} gelu");
        GradientWriteCheck.AssertOverwriteIsZeroPlusAccumulate(b, n, storage, (dx, write) => b.GeluErfBackward(dx, dy, x, write), $"{where} gelu-erf");
        var gated = GradientWriteCheck.Random(b, 2 * n, storage, rng, scale: 5);
        GradientWriteCheck.AssertOverwriteIsZeroPlusAccumulate(b, 2 * n, storage, (dx, write) => b.GatedGeluBackward(dx, dy, gated, N, F, write), $"{where} gated gelu");
    }

    [Theory]
    [InlineData(SimdLevel.Scalar)]
    [InlineData(SimdLevel.Vector256)]
    [InlineData(SimdLevel.Vector512)]
    public void Cpu_fp32_overwrite_is_zero_plus_accumulate(SimdLevel level)
    {
        using var cpu = new CpuBackend();
        using var _ = Simd.ForceForCurrentThread(level);
        EachOp(cpu, StorageFormat.Native, 3, 29, new Random(1), $"{level} 3×29");
        EachOp(cpu, StorageFormat.Native, 300, 517, new Random(2), $"{level} 300×517"); // several thread chunks
    }

    [Fact]
    public void Staged_bf16_overwrite_is_zero_plus_accumulate()
    {
        var mixed = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16);
        EachOp(mixed, StorageFormat.Bf16, 7, 45, new Random(3), "staged bf16");
    }

    [Fact]
    [Trait("Category", "GPU")]
    public void Gpu_overwrite_is_zero_plus_accumulate_and_matches_the_cpu()
    {
        using (var half = Open(8, HalfFormat.Bf16))
            EachOp(new MixedPrecisionBackend(half.Gpu, PrecisionMode.Bf16), StorageFormat.Bf16, 13, 70, new Random(5), "gpu bf16");
        using var p = Open(9);
        EachOp(p.Gpu, StorageFormat.Native, 13, 70, new Random(4), "gpu fp32");
        // The overwritten values are the CPU's (to the pair's tolerance), whatever the buffer held.
        const int N = 13, F = 70;
        var x = p.Upload(p.RandomArray(N * 2 * F, 5));
        var dy = p.Upload(p.RandomArray(N * F));
        var dx = p.Poisoned(N * F);
        p.Cpu.GeluBackward(dx.C, dy.C, x.C.Sub(0, N * F), GradientWrite.Overwrite); p.Gpu.GeluBackward(dx.G, dy.G, x.G.Sub(0, N * F), GradientWrite.Overwrite);
        p.AssertClose(dx, "gelu backward (overwrite)");
        var dxErf = p.Poisoned(N * F);
        p.Cpu.GeluErfBackward(dxErf.C, dy.C, x.C.Sub(0, N * F), GradientWrite.Overwrite); p.Gpu.GeluErfBackward(dxErf.G, dy.G, x.G.Sub(0, N * F), GradientWrite.Overwrite);
        p.AssertClose(dxErf, "gelu-erf backward (overwrite)");
        var dGated = p.Poisoned(N * 2 * F);
        p.Cpu.GatedGeluBackward(dGated.C, dy.C, x.C, N, F, GradientWrite.Overwrite); p.Gpu.GatedGeluBackward(dGated.G, dy.G, x.G, N, F, GradientWrite.Overwrite);
        p.AssertClose(dGated, "gated gelu backward (overwrite)");
    }
}
