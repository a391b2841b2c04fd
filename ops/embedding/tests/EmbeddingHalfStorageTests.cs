using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The embeddings and the relative position bias on 16-bit tables: the bf16 and fp16 entries against the CPU's staged ops
/// (<see cref="HalfStoragePair"/>: one 16-bit ulp plus 1e-5 of the largest magnitude for a 16-bit output, 1e-5 for an
/// fp32 one; nothing staged on the GPU). Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class EmbeddingHalfStorageTests
{
    [Theory]
    [InlineData(HalfFormat.Bf16)]
    [InlineData(HalfFormat.Fp16)]
    public void Embeddings_read_16_bit_tables_and_sum_16_bit_gradients_into_fp32(HalfFormat format)
    {
        using var p = new HalfStoragePair(format, 11 + (int)format);
        const int B = 3, T = 13, C = 40, V = 17;
        var tokenIds = Enumerable.Range(0, B * T).Select(_ => p.Rng.Next(V)).ToArray(); // many repeats
        var tokens = p.Ints(tokenIds);
        var wte = p.Stored(p.RandomArray(V * C));
        var wpe = p.Stored(p.RandomArray(T * C));
        var output = p.Poisoned(B * T * C);
        p.Cpu.EmbeddingForward(output.C, tokens.C, wte.C, wpe.C, B, T, C);
        p.Gpu.EmbeddingForward(output.G, tokens.G, wte.G, wpe.G, B, T, C);
        p.AssertHalfClose(output, "embedding output");

        var dOut = p.Stored(p.RandomArray(B * T * C));
        var dwte = p.Fp32(p.RandomArray(V * C));
        var dwpe = p.Fp32(p.RandomArray(T * C));
        p.Cpu.EmbeddingBackward(dwte.C, dwpe.C, dOut.C, tokens.C, B, T, C);
        p.Gpu.EmbeddingBackward(dwte.G, dwpe.G, dOut.G, tokens.G, B, T, C);
        p.AssertClose(dwte, "d token table (fp32)");
        p.AssertClose(dwpe, "d position table (fp32)");

        // One more lookup added to the sum (BERT's token types), and its gradient without the padding id's rows.
        var types = p.Stored(p.RandomArray(V * C));
        p.Cpu.EmbeddingAddForward(output.C, tokens.C, types.C, B * T, C);
        p.Gpu.EmbeddingAddForward(output.G, tokens.G, types.G, B * T, C);
        p.AssertHalfClose(output, "embedding rows added");
        var dTypes = p.Fp32(p.RandomArray(V * C));
        p.Cpu.EmbeddingAddBackward(dTypes.C, dOut.C, tokens.C, B * T, C, skipId: tokenIds[0]);
        p.Gpu.EmbeddingAddBackward(dTypes.G, dOut.G, tokens.G, B * T, C, skipId: tokenIds[0]);
        p.AssertClose(dTypes, "d added table (fp32)");

        var shape = new RelativePositionShape(3, 11, 14, 32, 128, Bidirectional: true);
        var table = p.Stored(p.RandomArray((int)shape.TableCount));
        var bias = p.Poisoned((int)shape.BiasCount);
        p.Cpu.RelativePositionBiasForward(bias.C, table.C, shape);
        p.Gpu.RelativePositionBiasForward(bias.G, table.G, shape);
        var (cpuBias, gpuBias) = p.Read(bias);
        Assert.Equal(cpuBias, gpuBias); // a lookup: the same bucket gives the same bits
        var dBias = p.Fp32(p.RandomArray((int)shape.BiasCount)); // a gradient sum: fp32 in every precision
        var dTable = p.Fp32(p.RandomArray((int)shape.TableCount));
        p.Cpu.RelativePositionBiasBackward(dTable.C, dBias.C, shape);
        p.Gpu.RelativePositionBiasBackward(dTable.G, dBias.G, shape);
        p.AssertClose(dTable, "d position bias table (fp32)");
        p.AssertNothingStaged();
    }
}
