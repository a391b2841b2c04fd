using Engine.Backends.Cpu;
using Engine.Backends.Mixed;
using Engine.Interop.CpuBf16;
using Engine.Models;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Models;

/// <summary>
/// Folding the zeroing of fresh gradient buffers into their first writer (<see cref="GradientWrite.Overwrite"/>)
/// changes no number: a training step of each family gives the same loss and parameter gradients, bit for bit, as the
/// same step with every overwrite run as zero + accumulate (<see cref="ZeroFirstBackend"/>, the models' old order).
/// On the CPU in fp32, and under bf16 mixed precision with the products staged through fp32 and (where the CPU has
/// AVX-512 BF16) native. A contribution of −0 stays −0 when overwritten where 0 + −0 gave +0; the parameter
/// gradients come out of sums that start from +0, so they agree in every bit.
/// </summary>
public class ZeroFirstEquivalenceTests
{
    public static TheoryData<string> Families => new() { "gpt2-tiny", "bert-tiny", "t5-tiny" };

    static void AssertSameStep(string preset, Func<IBackend> backend)
    {
        var config = TinyModels.Config(preset, dim: 32);
        var (inputs, targets) = TinyModels.RandomBatch(config, new Rng(5));
        var overwritten = TinyModels.Step(config, backend(), inputs, targets);
        var zeroFirst = new ZeroFirstBackend(backend());
        var expected = TinyModels.Step(config, zeroFirst, inputs, targets);
        Assert.True(zeroFirst.Converted > 0, "the step asked for no overwrite");
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Loss), BitConverter.DoubleToInt64Bits(overwritten.Loss));
        Assert.Equal(expected.Gradients.Length, overwritten.Gradients.Length);
        for (int i = 0; i < expected.Gradients.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected.Gradients[i]) != BitConverter.SingleToInt32Bits(overwritten.Gradients[i]))
                Assert.Fail($"{preset}: gradient {i} is {overwritten.Gradients[i]:R}, zero-first gave {expected.Gradients[i]:R}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void A_cpu_fp32_step_is_the_zero_first_step(string preset) => AssertSameStep(preset, () => new CpuBackend());

    [Theory]
    [MemberData(nameof(Families))]
    public void A_staged_bf16_step_is_the_zero_first_step(string preset) =>
        AssertSameStep(preset, () => new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16));

    [Theory]
    [MemberData(nameof(Families))]
    public void A_native_bf16_step_is_the_zero_first_step(string preset)
    {
        Assert.SkipUnless(CpuBf16Gemm.Available, $"no native bf16 matrix products: {CpuBf16Gemm.Reason}");
        AssertSameStep(preset, () =>
        {
            var cpu = new CpuBackend();
            cpu.UseBf16Matmul();
            return new MixedPrecisionBackend(cpu, PrecisionMode.Bf16);
        });
    }
}
