using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

// int8 matrix products (ops/quantization/int8_matmul.ops); the arithmetic is ops/quantization/Int8Matmul.cs
// (Int8GemmPanels.cs: the AVX2/VNNI kernels) and Int8WeightMatmul.cs.
public sealed unsafe partial class CpuBackend
{
    public void Int8Matmul(Slice<int> output, Slice<sbyte> a, Slice<sbyte> b, int N, int K, int M)
    {
        Int8MatmulChecks.Product("int8 matmul", output.Length, a.Length, b.Length, N, K, M);
        Ops.Int8Matmul.Multiply(output.Pointer, a.Pointer, b.Pointer, N, K, M);
    }

    public void Int8MatmulDequantize(Slice<float> output, Slice<int> accumulators, Slice<float> inputScale, Slice<float> weightScales, Slice<float> bias, int N, int M)
    {
        Int8MatmulChecks.Epilogue("int8 matmul dequantize", output.Length, accumulators.Length, inputScale.Length, N, M);
        Int8MatmulChecks.Columns("int8 matmul dequantize", weightScales.Length, bias.Length, M);
        Ops.Int8Matmul.Dequantize(output.Pointer, accumulators.Pointer, inputScale.Span[0], weightScales.Pointer, bias.Pointer, N, M);
    }

    public void MatmulInt8Weights(Slice<float> output, Slice<float> input, Slice<sbyte> weights, Slice<float> scales, Slice<float> bias, int N, int K, int M)
    {
        Int8MatmulChecks.Product("matmul int8 weights", output.Length, input.Length, weights.Length, N, K, M);
        Int8MatmulChecks.Columns("matmul int8 weights", scales.Length, bias.Length, M);
        Int8WeightMatmul.Multiply(output.Pointer, input.Pointer, weights.Pointer, scales.Pointer, bias.Pointer, N, K, M);
    }
}
