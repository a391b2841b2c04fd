using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// 8-bit AdamW (ops/optimizer/adamw8bit.ops, kernels in adamw8bit.cu); CPU twin: AdamW8Bit.cs.
public sealed unsafe partial class CudaBackend
{
    // adamw8bit.cu's shared memory: both maps and two max trees of 256 floats.
    const int AdamW8BitSharedBytes = 4 * DynamicQuantizationMap.Size * sizeof(float);

    /// <summary>One CUDA block of 256 threads per quantization block (adamw8bit.cu's kThreads).</summary>
    static KernelLaunch AdamW8BitLaunch(long count, int firstBlock) =>
        new(checked((uint)Engine.Backends.Cpu.Ops.AdamW8Bit.BlockCount(count, firstBlock)), 1, Threads, SharedBytes: AdamW8BitSharedBytes);

    public void AdamW8Bit(Slice<float> parameters, Slice<float> gradients, Slice<byte> m, Slice<byte> v, Slice<float> mAbsmax, Slice<float> vAbsmax, Slice<float> mMap, Slice<float> vMap, int firstBlock, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        Engine.Backends.Cpu.Ops.AdamW8Bit.Check("adamw 8-bit", parameters.Length, gradients.Length, m.Length, v.Length, mAbsmax.Length, vAbsmax.Length, mMap.Length, vMap.Length, firstBlock);
        if (parameters.Length == 0) return;
        // The same fp32 bias corrections as the CPU twin (computed once, in double, by the same function).
        var (stepSize, bias2Sqrt) = Engine.Backends.Cpu.Ops.AdamW8Bit.Corrections(learningRate, beta1, beta2, step);
        LaunchAdamw8bit(AdamW8BitLaunch(parameters.Length, firstBlock), Ptr(parameters), Ptr(gradients), Ptr(m), Ptr(v), Ptr(mAbsmax), Ptr(vAbsmax), Ptr(mMap), Ptr(vMap),
            parameters.Length, firstBlock, learningRate, beta1, beta2, epsilon, weightDecay, stepSize, bias2Sqrt);
    }

    public void AdamW8BitMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<byte> m, Slice<byte> v, Slice<float> mAbsmax, Slice<float> vAbsmax, Slice<float> mMap, Slice<float> vMap, int firstBlock, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        SliceChecks.SameLength("adamw 8-bit mixed", "master", master.Length, "half copy", halfCopy.Length);
        Engine.Backends.Cpu.Ops.AdamW8Bit.Check("adamw 8-bit mixed", master.Length, gradients.Length, m.Length, v.Length, mAbsmax.Length, vAbsmax.Length, mMap.Length, vMap.Length, firstBlock);
        long n = master.Length;
        if (n == 0) return;
        var (stepSize, bias2Sqrt) = Engine.Backends.Cpu.Ops.AdamW8Bit.Corrections(learningRate, beta1, beta2, step);
        var launch = AdamW8BitLaunch(n, firstBlock);
        if (format == HalfFormat.Bf16)
            LaunchAdamw8bitMixedBf16(launch, Ptr(master), Ptr(halfCopy), Ptr(gradients), Ptr(m), Ptr(v), Ptr(mAbsmax), Ptr(vAbsmax), Ptr(mMap), Ptr(vMap),
                n, firstBlock, learningRate, beta1, beta2, epsilon, weightDecay, stepSize, bias2Sqrt);
        else
            LaunchAdamw8bitMixedF16(launch, Ptr(master), Ptr(halfCopy), Ptr(gradients), Ptr(m), Ptr(v), Ptr(mAbsmax), Ptr(vAbsmax), Ptr(mMap), Ptr(vMap),
                n, firstBlock, learningRate, beta1, beta2, epsilon, weightDecay, stepSize, bias2Sqrt);
    }
}
