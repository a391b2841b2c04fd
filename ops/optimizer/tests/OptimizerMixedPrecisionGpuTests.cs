using Engine.Precision;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// AdamW with a 16-bit copy (adamw_mixed_* in optimizer.cu) against its CPU twin: the fp32 state is held to the fp32
/// AdamW test's 1e-5 (the CPU computes in double, the GPU in float); the 16-bit copy must be exactly the cast of the
/// GPU's own master weights, and those must be the bits of the GPU's fp32 AdamW.
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class OptimizerMixedPrecisionGpuTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16, 100_003)]
    [InlineData(HalfFormat.Fp16, 4_099)]
    public void AdamW_mixed_matches_the_CPU_and_the_GPUs_fp32_AdamW(HalfFormat format, int n)
    {
        using var p = Open(n * 3 + (int)format);
        var p0 = p.RandomArray(n);
        var m0 = p.RandomArray(n, 0.1);
        var v0 = p.RandomArray(n, 0.1).Select(MathF.Abs).ToArray();
        var g = p.Upload(p.RandomArray(n));
        var master = p.Upload(p0);
        var m = p.Upload(m0);
        var v = p.Upload(v0);
        var copy = p.Upload(Enumerable.Repeat(HalfPoison, n).ToArray());
        p.Cpu.AdamWMixed(master.C, copy.C, format, g.C, m.C, v.C, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        p.Gpu.AdamWMixed(master.G, copy.G, format, g.G, m.G, v.G, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        AssertClose(p.Download(master), "master weights");
        AssertClose(p.Download(m), "first moment");
        AssertClose(p.Download(v), "second moment");

        var gpuMaster = p.Download(master).Gpu;
        var gpuCopy = p.Download(copy).Gpu;
        for (int i = 0; i < n; i++)
            if (gpuCopy[i] != HalfFormats.FromFloat(format, gpuMaster[i]))
                Assert.Fail($"copy[{i}]: GPU 0x{gpuCopy[i]:X4}, the cast of its master {gpuMaster[i]:R} is 0x{HalfFormats.FromFloat(format, gpuMaster[i]):X4}");

        // The GPU's fp32 AdamW on the same inputs: the same kernel arithmetic, so the same bits.
        var fp32 = p.Gpu.Allocate<float>(n, "fp32 params"); p.Gpu.CopyIn<float>(p0, fp32);
        var fm = p.Gpu.Allocate<float>(n, "m"); p.Gpu.CopyIn<float>(m0, fm);
        var fv = p.Gpu.Allocate<float>(n, "v"); p.Gpu.CopyIn<float>(v0, fv);
        p.Gpu.AdamW(fp32, g.G, fm, fv, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
        var fp32Result = new float[n];
        p.Gpu.CopyOut(fp32, fp32Result);
        for (int i = 0; i < n; i++)
            if (BitConverter.SingleToUInt32Bits(fp32Result[i]) != BitConverter.SingleToUInt32Bits(gpuMaster[i]))
                Assert.Fail($"master[{i}]: mixed {gpuMaster[i]:R}, fp32 AdamW {fp32Result[i]:R}");
    }
}
