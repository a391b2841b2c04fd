using Engine.Backends.Benchmarks;
using Engine.Tensors;

namespace Engine.Backends.Benchmarks.Families;

/// <summary>int8 quantization of one block's weights (12·C², as 3C·C: one scale per output channel) and of an
/// activation-sized tensor, dequantization, fake quantization and int4 packing, all on fp32 (memory-bound).</summary>
public sealed class QuantizationBenchmarks : OpBenchmarkFamily
{
    public override string Family => "quantization";

    public override IEnumerable<OpBenchmark> Benchmarks()
    {
        yield return new("quantize per channel", c =>
        {
            var (fp32, rows, cols) = Weights(c);
            long n = (long)rows * cols;
            var (w, scales, q) = (c.Fp32(n, fp32State: true), c.Zeros<float>(rows, fp32State: true), c.Zeros<sbyte>(n, fp32State: true));
            return new(() => fp32.QuantizePerChannel(q, scales, w, rows, cols, 8), Bytes: n * 5.0, Flops: 0);
        });
        yield return new("quantize per tensor", c =>
        {
            var (fp32, rows, cols) = Weights(c);
            long n = (long)rows * cols;
            var (x, scale, q) = (c.Fp32(n, fp32State: true), c.Zeros<float>(1, fp32State: true), c.Zeros<sbyte>(n, fp32State: true));
            // Two reads of x (the max, then the levels) and one write of q.
            return new(() => fp32.QuantizeInt8PerTensor(q, scale, x), Bytes: n * 9.0, Flops: 0);
        });
        yield return new("dequantize", c =>
        {
            var (fp32, rows, cols) = Weights(c);
            long n = (long)rows * cols;
            var (output, scales, q) = (c.Zeros<float>(n, fp32State: true), c.Fp32(rows, fp32State: true), c.Zeros<sbyte>(n, fp32State: true));
            return new(() => fp32.Dequantize(output, q, scales, rows, cols), Bytes: n * 5.0, Flops: 0);
        });
        yield return new("fake quantize", c =>
        {
            var (fp32, rows, cols) = Weights(c);
            long n = (long)rows * cols;
            var (output, input, scales) = (c.Zeros<float>(n, fp32State: true), c.Fp32(n, fp32State: true), c.Fp32(rows, fp32State: true));
            return new(() => fp32.FakeQuantize(output, input, scales, 4, rows, cols), Bytes: n * 8.0, Flops: 0);
        });
        yield return new("pack int4", c =>
        {
            var (fp32, rows, cols) = Weights(c);
            long n = (long)rows * cols;
            var (packed, q) = (c.Zeros<byte>((n + 1) / 2, fp32State: true), c.Zeros<sbyte>(n, fp32State: true));
            return new(() => fp32.PackInt4(packed, q, n), Bytes: n * 1.5, Flops: 0);
        });
    }

    /// <summary>The fp32 backend and one block's weights as (3C, 4C) rows of output channels.</summary>
    static (IBackend Fp32, int Rows, int Cols) Weights(OpBenchmarkContext c) => (c.Backend.Fp32Backend, 3 * c.Shape.Width, 4 * c.Shape.Width);
}
