using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

// Quantization ops (ops/quantization/quantization.ops); the arithmetic is ops/quantization/Quantization.cs.
public sealed unsafe partial class CpuBackend
{
    public void QuantizePerChannel(Slice<sbyte> q, Slice<float> scales, Slice<float> weights, int rows, int cols, int bits)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Matrix("quantize per channel", q.Length, weights.Length, scales.Length, rows, cols);
        Quantization.QuantizeRows(q.Pointer, scales.Pointer, weights.Pointer, rows, cols, qmax);
    }

    public void QuantizeInt8PerTensor(Slice<sbyte> q, Slice<float> scale, Slice<float> x)
    {
        QuantizationChecks.Tensor("quantize per tensor", q.Length, x.Length, scale.Length);
        Quantization.QuantizeTensor(q.Pointer, scale.Pointer, x.Pointer, x.Length, 127);
    }

    public void QuantizeWithScales(Slice<sbyte> q, Slice<float> x, Slice<float> scales, int bits, int rows, int cols)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Matrix("quantize with scales", q.Length, x.Length, scales.Length, rows, cols);
        Quantization.QuantizeWithScales(q.Pointer, x.Pointer, scales.Pointer, rows, cols, qmax);
    }

    public void Dequantize(Slice<float> output, Slice<sbyte> q, Slice<float> scales, int rows, int cols)
    {
        QuantizationChecks.Matrix("dequantize", q.Length, output.Length, scales.Length, rows, cols);
        Quantization.DequantizeRows(output.Pointer, q.Pointer, scales.Pointer, rows, cols);
    }

    public void FakeQuantize(Slice<float> output, Slice<float> input, Slice<float> scales, int bits, int rows, int cols)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Matrix("fake quantize", output.Length, input.Length, scales.Length, rows, cols);
        Quantization.FakeQuantizeRows(output.Pointer, input.Pointer, scales.Pointer, rows, cols, qmax);
    }

    public void FakeQuantizeBackward(Slice<float> dInput, Slice<float> dSteps, Slice<float> dOutput, Slice<float> input, Slice<float> steps, int bits, int rows, int cols, float stepGradientScale)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Backward("fake quantize backward", dInput.Length, dSteps.Length, dOutput.Length, input.Length, steps.Length, rows, cols);
        Lsq.Backward(dInput.IsEmpty ? null : dInput.Pointer, dSteps.Pointer, dOutput.Pointer, input.Pointer, steps.Pointer, rows, cols, qmax, stepGradientScale);
    }

    public void PackInt4(Slice<byte> packed, Slice<sbyte> q, long n)
    {
        QuantizationChecks.Int4("pack int4", q.Length, packed.Length, n);
        Quantization.PackInt4(packed.Pointer, q.Pointer, n);
    }

    public void UnpackInt4(Slice<sbyte> q, Slice<byte> packed, long n)
    {
        QuantizationChecks.Int4("unpack int4", q.Length, packed.Length, n);
        Quantization.UnpackInt4(q.Pointer, packed.Pointer, n);
    }
}
