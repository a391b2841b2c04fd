using Engine.Backends.Cpu;
using Engine.Backends.Mixed;
using Engine.Models;
using Engine.Precision;
using Engine.Tensors;
using Engine.Tests.Support;
using Engine.Util;

namespace Engine.Tests.Precision;

/// <summary>
/// How mixed precision hands ops to a backend that reads and writes 16-bit storage itself (CUDA's value kernels):
/// the slices as they are, fp32-stored weights narrowed to 16 bits, and anything it cannot take staged. On the CPU
/// the backend underneath is a second mixed-precision layer, which takes every op on 16-bit storage by staging it:
/// the routing is then checked bit for bit against the one-layer (all-staged) run. The CUDA kernels themselves are
/// checked against the staged CPU path by GpuHalfStorageKernelTests.
/// </summary>
public class DirectHalfStorageTests
{
    static MixedPrecisionBackend Direct(PrecisionMode precision) =>
        new(new MixedPrecisionBackend(new CpuBackend(), precision), precision);

    [Theory]
    [InlineData("gpt2-tiny", PrecisionMode.Bf16)]
    [InlineData("gpt2-tiny", PrecisionMode.Fp16)]
    [InlineData("bert-tiny", PrecisionMode.Bf16)]
    [InlineData("t5-tiny", PrecisionMode.Bf16)]
    public void Ops_handed_over_in_16_bit_storage_give_the_staged_bits(string preset, PrecisionMode precision)
    {
        var config = TinyModels.Config(preset);
        var (inputs, targets) = TinyModels.RandomBatch(config, new Rng(4));
        var staged = TinyModels.MixedStep(config, new MixedPrecisionBackend(new CpuBackend(), precision), inputs, targets);
        var direct = TinyModels.MixedStep(config, Direct(precision), inputs, targets);

        Assert.Equal(staged.Loss, direct.Loss);
        for (int i = 0; i < staged.Gradients.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(staged.Gradients[i]) == BitConverter.SingleToUInt32Bits(direct.Gradients[i]),
                $"gradient {i}: {direct.Gradients[i]:R} handed over, {staged.Gradients[i]:R} staged");
        Assert.True(staged.Staged > 0);
        Assert.Equal(0, direct.Staged); // every op of every family goes over as it is
    }

    [Fact]
    public void An_op_with_a_value_in_fp32_storage_beside_16_bit_ones_is_staged()
    {
        using var direct = Direct(PrecisionMode.Bf16);
        using var staged = new MixedPrecisionBackend(new CpuBackend(), PrecisionMode.Bf16);
        int N = 5, C = 24;
        var rng = new Random(2);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var x = R(N * C);
        var w = R(C); var b = R(C);

        // 16-bit input and output, fp32-stored weights: one 16-bit kernel cannot read both storages.
        float[] LayerNorm(MixedPrecisionBackend m)
        {
            var input = HalfStorage.Allocate(m, N * C, StorageFormat.Bf16, "x");
            m.CopyIn<float>(x, input);
            var weight = m.Allocate<float>(C, "w"); m.CopyIn<float>(w, weight);
            var bias = m.Allocate<float>(C, "b"); m.CopyIn<float>(b, bias);
            var output = HalfStorage.Allocate(m, N * C, StorageFormat.Bf16, "y");
            m.LayerNormForward(output, m.Allocate<float>(N, "mean"), m.Allocate<float>(N, "rstd"), input, weight, bias, N, C, 1e-5f);
            var y = new float[N * C];
            m.CopyOut(output, y);
            return y;
        }
        Assert.Equal(LayerNorm(staged), LayerNorm(direct));
        Assert.Equal(1, direct.StagedOps);

        var a = HalfStorage.Allocate(direct, N * C, StorageFormat.Bf16, "a");
        direct.CopyIn<float>(x, a);
        var sum = direct.Allocate<float>(N * C, "fp32 sum");
        direct.Add(sum, a, a);
        Assert.Equal(2, direct.StagedOps);
        var read = new float[N * C];
        direct.CopyOut(sum, read);
        var rounded = (float[])x.Clone();
        StorageRounding.Round(rounded, HalfFormat.Bf16);
        Assert.Equal(rounded.Select(v => v + v).ToArray(), read);
    }
}
