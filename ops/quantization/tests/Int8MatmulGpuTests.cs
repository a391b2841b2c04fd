using Engine.Tests.Backends.Cpu.Ops;
using static Engine.Tests.Backends.Cuda.CpuGpuPair;

namespace Engine.Tests.Backends.Cuda;

/// <summary>
/// The int8 products on the GPU (ops/quantization/int8_matmul.cu and cublasGemmEx's int8 path) against the CPU on
/// fresh random inputs, outputs poisoned first. Int8Matmul and the epilogue must match bit for bit (integer sums are
/// exact; the epilogue's roundings are spelled out on both sides). The weight-only product's fp32 chain is compared
/// with the bound derived in <see cref="Int8MatmulCpuTests.WeightOnlyBound"/>, applied to both sides' distance from
/// the float64 reference. Skipped with "no CUDA device" where there is none.
/// </summary>
[Trait("Category", "GPU")]
public class Int8MatmulGpuTests
{
    const int Poison = unchecked((int)0xDEADBEEF);

    /// <summary>K and M multiples of 4 take cuBLAS (unless turned off); the others the __dp4a kernel.</summary>
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 17, 5)]
    [InlineData(17, 3, 129)]
    [InlineData(64, 64, 64)]
    [InlineData(129, 67, 17)]
    [InlineData(20, 36, 44)]
    [InlineData(70, 130, 66)]
    public void Int8_matmul_matches_the_CPU_bit_for_bit_through_cuBLAS_and_the_kernel(int N, int K, int M)
    {
        using var p = Open(N * 31 + K * 7 + M);
        var (av, bv) = Int8MatmulCpuTests.Operands(p.Rng, N, K, M);
        var (a, b) = (p.Upload(av), p.Upload(bv));
        var expected = Int8MatmulCpuTests.Expected(av, bv, N, K, M);
        foreach (bool cublas in new[] { true, false })
        {
            p.Gpu.Int8MatmulCublas = cublas;
            var output = p.Upload(Enumerable.Repeat(Poison, N * M).ToArray());
            p.Cpu.Int8Matmul(output.C, a.C, b.C, N, K, M);
            p.Gpu.Int8Matmul(output.G, a.G, b.G, N, K, M);
            var (oc, og) = p.Download(output);
            Assert.Equal(expected, oc);
            Assert.True(oc.AsSpan().SequenceEqual(og), $"GPU ({(cublas ? "cuBLAS where allowed" : "kernel")}) differs from the CPU at {N}×{K}×{M}");
        }
    }

    [Fact]
    public void Unaligned_operands_take_the_kernel_and_stay_exact()
    {
        // K and M multiples of 4, but a starts one byte into its buffer: cuBLAS's int8 path needs 4-byte alignment.
        const int N = 9, K = 24, M = 12;
        using var p = Open(3);
        var (av, bv) = Int8MatmulCpuTests.Operands(p.Rng, N, K, M);
        var buffer = p.Upload(new sbyte[] { 5 }.Concat(av).ToArray());
        var a = (buffer.C.Sub(1, N * K), buffer.G.Sub(1, N * K));
        var b = p.Upload(bv);
        var output = p.Upload(Enumerable.Repeat(Poison, N * M).ToArray());
        p.Gpu.Int8Matmul(output.G, a.Item2, b.G, N, K, M);
        Assert.Equal(Int8MatmulCpuTests.Expected(av, bv, N, K, M), p.Download(output).Gpu);
    }

    [Theory]
    [InlineData(37, 53, true)]
    [InlineData(5, 300, false)]
    public void The_epilogue_matches_the_CPU_bit_for_bit(int N, int M, bool withBias)
    {
        using var p = Open(N + M);
        var accValues = Enumerable.Range(0, N * M).Select(_ => p.Rng.Next(int.MinValue, int.MaxValue)).ToArray();
        accValues[0] = int.MinValue; accValues[1] = int.MaxValue; accValues[2] = 16_777_217;
        var acc = p.Upload(accValues);
        var inputScale = p.Upload(new[] { 0.00731f });
        var weightScales = p.Upload(p.RandomArray(M, 0.01).Select(MathF.Abs).ToArray());
        var bias = withBias ? p.Upload(p.RandomArray(M, 5)) : None;
        var output = p.Poisoned(N * M);
        p.Cpu.Int8MatmulDequantize(output.C, acc.C, inputScale.C, weightScales.C, bias.C, N, M);
        p.Gpu.Int8MatmulDequantize(output.G, acc.G, inputScale.G, weightScales.G, bias.G, N, M);
        var (oc, og) = p.Download(output);
        for (int i = 0; i < oc.Length; i++)
            if (BitConverter.SingleToUInt32Bits(oc[i]) != BitConverter.SingleToUInt32Bits(og[i]))
                Assert.Fail($"dequantized[{i}]: GPU {og[i]:R}, CPU {oc[i]:R}");
    }

    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(17, 3, 129, false)]
    [InlineData(129, 67, 17, true)]
    [InlineData(70, 200, 66, true)]
    public void Weight_only_int8_matches_the_CPU_within_the_chain_bound(int N, int K, int M, bool withBias)
    {
        using var p = Open(N + 3 * K + M);
        var xv = p.RandomArray(N * K, 3);
        var qv = Enumerable.Range(0, M * K).Select(_ => (sbyte)p.Rng.Next(-128, 128)).ToArray();
        var sv = p.RandomArray(M, 0.02).Select(MathF.Abs).ToArray();
        var biasValues = withBias ? p.RandomArray(M) : null;
        var (x, q, scales) = (p.Upload(xv), p.Upload(qv), p.Upload(sv));
        var bias = biasValues == null ? None : p.Upload(biasValues);
        var output = p.Poisoned(N * M);
        p.Cpu.MatmulInt8Weights(output.C, x.C, q.C, scales.C, bias.C, N, K, M);
        p.Gpu.MatmulInt8Weights(output.G, x.G, q.G, scales.G, bias.G, N, K, M);
        var (oc, og) = p.Download(output);
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++)
            {
                // Each side is within the bound of the float64 value, so they are within twice it of each other.
                double bound = 2 * Int8MatmulCpuTests.WeightOnlyBound(xv, qv, sv, biasValues, n, m, K);
                float c = oc[n * M + m], g = og[n * M + m];
                Assert.True(Math.Abs(c - g) <= bound, $"[{n},{m}] GPU {g:R}, CPU {c:R}, bound {bound:G3}");
            }
    }
}
