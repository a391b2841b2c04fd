using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// Quantization ops (ops/quantization/quantization.ops, kernels in quantization.cu); CPU twins in Quantization.cs.
public sealed unsafe partial class CudaBackend
{
    const uint AbsMaxBlocks = 264; // fixed grid for the per-tensor max (a max is order-free; the fixed grid keeps it simple)

    const int TreeBytes = (int)Threads * sizeof(float); // the block max's scratch in quantization.cu (kThreads floats)

    public void QuantizePerChannel(Slice<sbyte> q, Slice<float> scales, Slice<float> weights, int rows, int cols, int bits)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Matrix("quantize per channel", q.Length, weights.Length, scales.Length, rows, cols);
        if (rows == 0) return;
        // One block of 256 threads per row, its max tree in 256 floats of dynamic shared memory.
        LaunchQuantizeRows(new((uint)rows, 1, Threads, SharedBytes: TreeBytes), Ptr(q), Ptr(scales), Ptr(weights), rows, cols, qmax);
    }

    public void QuantizeInt8PerTensor(Slice<sbyte> q, Slice<float> scale, Slice<float> x)
    {
        QuantizationChecks.Tensor("quantize per tensor", q.Length, x.Length, scale.Length);
        ulong partials = Scratch("quantize.absmax", AbsMaxBlocks * 4L);
        LaunchAbsmaxPartial(new(AbsMaxBlocks, 1, Threads, SharedBytes: TreeBytes), partials, Ptr(x), x.Length);
        LaunchAbsmaxScale(new(1, 1, 32), Ptr(scale), partials, (int)AbsMaxBlocks, 127);
        if (x.Length > 0) LaunchQuantizeTensor(Elementwise(x.Length), Ptr(q), Ptr(x), Ptr(scale), x.Length, 127);
    }

    public void QuantizeWithScales(Slice<sbyte> q, Slice<float> x, Slice<float> scales, int bits, int rows, int cols)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Matrix("quantize with scales", q.Length, x.Length, scales.Length, rows, cols);
        long n = (long)rows * cols;
        if (n > 0) LaunchQuantizeWithScales(Elementwise(n), Ptr(q), Ptr(x), Ptr(scales), rows, cols, qmax);
    }

    public void Dequantize(Slice<float> output, Slice<sbyte> q, Slice<float> scales, int rows, int cols)
    {
        QuantizationChecks.Matrix("dequantize", q.Length, output.Length, scales.Length, rows, cols);
        long n = (long)rows * cols;
        if (n > 0) LaunchDequantizeRows(Elementwise(n), Ptr(output), Ptr(q), Ptr(scales), rows, cols);
    }

    public void FakeQuantize(Slice<float> output, Slice<float> input, Slice<float> scales, int bits, int rows, int cols)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Matrix("fake quantize", output.Length, input.Length, scales.Length, rows, cols);
        long n = (long)rows * cols;
        if (n > 0) LaunchFakeQuantizeRows(Elementwise(n), Ptr(output), Ptr(input), Ptr(scales), rows, cols, qmax);
    }

    public void FakeQuantizeBackward(Slice<float> dInput, Slice<float> dSteps, Slice<float> dOutput, Slice<float> input, Slice<float> steps, int bits, int rows, int cols, float stepGradientScale)
    {
        int qmax = QuantizationScheme.MaxLevel(bits);
        QuantizationChecks.Backward("fake quantize backward", dInput.Length, dSteps.Length, dOutput.Length, input.Length, steps.Length, rows, cols);
        if (rows == 0) return;
        // One block of 256 threads per (row, chunk of Lsq.Chunk columns), its double tree in dynamic shared memory; the
        // chunks' sums then meet in order, one thread per row.
        int chunks = Lsq.Chunks(cols);
        long blocks = (long)rows * chunks;
        ulong partials = Scratch("lsq.partials", blocks * sizeof(double));
        LaunchFakeQuantizeBackwardPartial(new((uint)Math.Min(blocks, 65535), 1, Threads, SharedBytes: (int)Threads * sizeof(double)),
            dInput.IsEmpty ? 0 : Ptr(dInput), partials, Ptr(dOutput), Ptr(input), Ptr(steps), rows, cols, chunks, qmax);
        LaunchFakeQuantizeStepFinish(Elementwise(rows), Ptr(dSteps), partials, rows, chunks, stepGradientScale);
    }

    public void PackInt4(Slice<byte> packed, Slice<sbyte> q, long n)
    {
        QuantizationChecks.Int4("pack int4", q.Length, packed.Length, n);
        if (n > 0) LaunchPackInt4(Elementwise((n + 1) / 2), Ptr(packed), Ptr(q), n);
    }

    public void UnpackInt4(Slice<sbyte> q, Slice<byte> packed, long n)
    {
        QuantizationChecks.Int4("unpack int4", q.Length, packed.Length, n);
        if (n > 0) LaunchUnpackInt4(Elementwise(n), Ptr(q), Ptr(packed), n);
    }
}
