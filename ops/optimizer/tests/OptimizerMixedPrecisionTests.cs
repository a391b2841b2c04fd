using Engine.Backends.Cpu;
using Engine.Precision;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The CPU's AdamW with a 16-bit copy against its fp32 AdamW, bit for bit, on <see cref="Engine.Tests.Support.BackendArrays.N"/>
/// elements (several of ParallelRows' chunks).
/// </summary>
public class OptimizerMixedPrecisionTests
{
    /// <summary>Several steps, so the moments carry history and the bias corrections change.</summary>
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void AdamW_mixed_gives_the_fp32_steps_master_weights_bit_for_bit_and_their_cast(HalfFormat format)
    {
        using var cpu = new CpuBackend();
        var p0 = RandomArray(N, 41);
        var fp32 = (P: Upload(cpu, p0), M: cpu.Allocate<float>(N, "m"), V: cpu.Allocate<float>(N, "v"));
        var mixed = (P: Upload(cpu, p0), M: cpu.Allocate<float>(N, "m"), V: cpu.Allocate<float>(N, "v"));
        var copy = Upload(cpu, Enumerable.Repeat((ushort)0xFFFF, N).ToArray());
        for (int step = 1; step <= 3; step++)
        {
            var g = Upload(cpu, RandomArray(N, 100 + step, 0.01));
            cpu.AdamW(fp32.P, g, fp32.M, fp32.V, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
            cpu.AdamWMixed(mixed.P, copy, format, g, mixed.M, mixed.V, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
        }
        AssertSameBits(Download(cpu, fp32.P), Download(cpu, mixed.P), "master weights");
        AssertSameBits(Download(cpu, fp32.M), Download(cpu, mixed.M), "first moment");
        AssertSameBits(Download(cpu, fp32.V), Download(cpu, mixed.V), "second moment");
        var master = Download(cpu, mixed.P);
        var half = Download(cpu, copy);
        for (int i = 0; i < N; i++)
            Assert.True(HalfFormats.FromFloat(format, master[i]) == half[i], $"copy[{i}] 0x{half[i]:X4} is not the cast of {master[i]:R}");
    }
}
