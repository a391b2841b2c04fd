using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cpu;

// 8-bit AdamW (ops/optimizer/adamw8bit.ops); the reference arithmetic is ops/optimizer/AdamW8Bit.cs,
// run here as its vectorised twin ops/optimizer/CpuAdamW8Bit.cs (the same bits).
public sealed unsafe partial class CpuBackend
{
    public void AdamW8Bit(Slice<float> parameters, Slice<float> gradients, Slice<byte> m, Slice<byte> v, Slice<float> mAbsmax, Slice<float> vAbsmax, Slice<float> mMap, Slice<float> vMap, int firstBlock, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        Ops.AdamW8Bit.Check("adamw 8-bit", parameters.Length, gradients.Length, m.Length, v.Length, mAbsmax.Length, vAbsmax.Length, mMap.Length, vMap.Length, firstBlock);
        CpuAdamW8Bit.Step(parameters.Pointer, gradients.Pointer, m.Pointer, v.Pointer, mAbsmax.Pointer, vAbsmax.Pointer, mMap.Pointer, vMap.Pointer, parameters.Length, firstBlock,
            learningRate, beta1, beta2, epsilon, weightDecay, step);
    }

    public void AdamW8BitMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<byte> m, Slice<byte> v, Slice<float> mAbsmax, Slice<float> vAbsmax, Slice<float> mMap, Slice<float> vMap, int firstBlock, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        SliceChecks.SameLength("adamw 8-bit mixed", "master", master.Length, "half copy", halfCopy.Length);
        Ops.AdamW8Bit.Check("adamw 8-bit mixed", master.Length, gradients.Length, m.Length, v.Length, mAbsmax.Length, vAbsmax.Length, mMap.Length, vMap.Length, firstBlock);
        CpuAdamW8Bit.StepMixed(master.Pointer, halfCopy.Pointer, format, gradients.Pointer, m.Pointer, v.Pointer, mAbsmax.Pointer, vAbsmax.Pointer, mMap.Pointer, vMap.Pointer, master.Length, firstBlock,
            learningRate, beta1, beta2, epsilon, weightDecay, step);
    }
}
