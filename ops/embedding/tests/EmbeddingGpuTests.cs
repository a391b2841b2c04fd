using Engine.Tensors;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The embedding lookups and T5's relative position bias, forward and backward, on the GPU against the CPU
/// (<see cref="CpuGpuPair"/>: random inputs of odd sizes, outputs poisoned with NaN, 1e-5 of the largest magnitude).
/// Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class EmbeddingGpuTests
{
    [Fact]
    public void Embedding_forward_and_deterministic_backward()
    {
        using var p = Open(1);
        const int B = 3, T = 7, C = 37, V = 11;
        var tokens = p.Upload(Enumerable.Range(0, B * T).Select(_ => p.Rng.Next(V)).ToArray()); // many repeats
        var wte = p.Upload(p.RandomArray(V * C));
        var wpe = p.Upload(p.RandomArray(T * C));
        var output = p.Poisoned(B * T * C);
        p.Cpu.EmbeddingForward(output.C, tokens.C, wte.C, wpe.C, B, T, C);
        p.Gpu.EmbeddingForward(output.G, tokens.G, wte.G, wpe.G, B, T, C);
        p.AssertClose(output, "embedding output");

        var dout = p.Upload(p.RandomArray(B * T * C));
        var dwte = p.Upload(p.RandomArray(V * C)); // backward accumulates onto what is there
        var dwpe = p.Upload(p.RandomArray(T * C));
        p.Cpu.EmbeddingBackward(dwte.C, dwpe.C, dout.C, tokens.C, B, T, C);
        p.Gpu.EmbeddingBackward(dwte.G, dwpe.G, dout.G, tokens.G, B, T, C);
        p.AssertClose(dwte, "d token table");
        p.AssertClose(dwpe, "d position table");
    }

    [Fact]
    public void Embedding_lookup_add_and_its_backward_skipping_padding()
    {
        using var p = Open(12);
        const int N = 40, C = 19, V = 7, pad = 0;
        var ids = p.Upload(Enumerable.Range(0, N).Select(_ => p.Rng.Next(V)).ToArray());
        var table = p.Upload(p.RandomArray(V * C));
        var output = p.Upload(p.RandomArray(N * C)); // lookups add to what is there
        p.Cpu.EmbeddingAddForward(output.C, ids.C, table.C, N, C);
        p.Gpu.EmbeddingAddForward(output.G, ids.G, table.G, N, C);
        p.AssertClose(output, "embedding add");
        var dout = p.Upload(p.RandomArray(N * C));
        var dtable = p.Upload(p.RandomArray(V * C));
        p.Cpu.EmbeddingAddBackward(dtable.C, dout.C, ids.C, N, C, pad);
        p.Gpu.EmbeddingAddBackward(dtable.G, dout.G, ids.G, N, C, pad);
        p.AssertClose(dtable, "d table (padding row untouched)");
    }

    /// <summary>Lengths past the max distance (300 keys) so every logarithmic bucket and the clamp are exercised.</summary>
    [Theory]
    [InlineData(4, 300, 300, true)]   // encoder self-attention
    [InlineData(3, 37, 37, false)]    // decoder self-attention (causal buckets)
    [InlineData(2, 11, 290, false)]
    public void Relative_position_bias_forward_and_deterministic_backward(int heads, int Tq, int Tk, bool bidirectional)
    {
        using var p = Open(heads + Tq + Tk);
        var shape = new RelativePositionShape(heads, Tq, Tk, 32, 128, bidirectional);
        var table = p.Upload(p.RandomArray((int)shape.TableCount));
        var bias = p.Poisoned((int)shape.BiasCount);
        p.Cpu.RelativePositionBiasForward(bias.C, table.C, shape);
        p.Gpu.RelativePositionBiasForward(bias.G, table.G, shape);
        p.AssertClose(bias, "position bias", tolerance: 0); // a lookup: the same bucket gives the same bits

        var dbias = p.Upload(p.RandomArray((int)shape.BiasCount));
        var dtable = p.Upload(p.RandomArray((int)shape.TableCount)); // backward accumulates onto what is there
        p.Cpu.RelativePositionBiasBackward(dtable.C, dbias.C, shape);
        p.Gpu.RelativePositionBiasBackward(dtable.G, dbias.G, shape);
        p.AssertClose(dtable, "d bias table");
        var first = new float[shape.TableCount];
        p.Gpu.CopyOut(dtable.G, first);
        p.Gpu.RelativePositionBiasBackward(dtable.G, dbias.G, shape);
        var second = new float[shape.TableCount];
        p.Gpu.CopyOut(dtable.G, second);
        var again = p.Upload(first);
        p.Gpu.RelativePositionBiasBackward(again.G, dbias.G, shape);
        var third = new float[shape.TableCount];
        p.Gpu.CopyOut(again.G, third);
        Assert.Equal(second, third); // no atomics: the same sum in the same order, the same bits
    }
}
