using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The GELU forms and the residual sums on 16-bit values: the bf16 and fp16 entries against the CPU's staged ops
/// (<see cref="HalfStoragePair"/>: one 16-bit ulp plus 1e-5 of the largest magnitude for a 16-bit output, 1e-5 for an
/// fp32 one; nothing staged on the GPU). Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class ElementwiseHalfStorageTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void GELU_forms_and_residual_sums_read_and_write_16_bit_values(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 7 + (int)format);
        const int N = 13, F = 77, n = N * F;
        var x = p.Stored(p.RandomArray(n, 4));
        var dy = p.Stored(p.RandomArray(n));
        foreach (var (name, forward, backward) in new (string, Action<Engine.Tensors.IBackend, Slice<float>, Slice<float>>, Action<Engine.Tensors.IBackend, Slice<float>, Slice<float>, Slice<float>>)[]
        {
            ("gelu (tanh)", (b, o, i) => b.GeluForward(o, i), (b, d, g, i) => b.GeluBackward(d, g, i, GradientWrite.Accumulate)),
            ("gelu (erf)", (b, o, i) => b.GeluErfForward(o, i), (b, d, g, i) => b.GeluErfBackward(d, g, i, GradientWrite.Accumulate)),
        })
        {
            var y = p.Poisoned(n);
            forward(p.Cpu, y.C, x.C); forward(p.Gpu, y.G, x.G);
            p.AssertHalfClose(y, $"{name} output");
            var dx = p.Stored(p.RandomArray(n));
            backward(p.Cpu, dx.C, dy.C, x.C); backward(p.Gpu, dx.G, dy.G, x.G);
            p.AssertHalfClose(dx, $"{name} d input (accumulated)");
        }

        var gatedIn = p.Stored(p.RandomArray(N * 2 * F, 4));
        var gated = p.Poisoned(n);
        p.Cpu.GatedGeluForward(gated.C, gatedIn.C, N, F); p.Gpu.GatedGeluForward(gated.G, gatedIn.G, N, F);
        p.AssertHalfClose(gated, "gated gelu output");
        var dGated = p.Stored(p.RandomArray(N * 2 * F));
        p.Cpu.GatedGeluBackward(dGated.C, dy.C, gatedIn.C, N, F, GradientWrite.Accumulate); p.Gpu.GatedGeluBackward(dGated.G, dy.G, gatedIn.G, N, F, GradientWrite.Accumulate);
        p.AssertHalfClose(dGated, "gated gelu d input (accumulated)");

        var sum = p.Poisoned(n);
        p.Cpu.Add(sum.C, x.C, dy.C); p.Gpu.Add(sum.G, x.G, dy.G);
        p.AssertHalfClose(sum, "residual add");
        p.Cpu.Accumulate(sum.C, x.C); p.Gpu.Accumulate(sum.G, x.G);
        p.AssertHalfClose(sum, "accumulate");
        p.AssertNothingStaged();
    }
}
