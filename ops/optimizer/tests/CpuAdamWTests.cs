using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The vectorised AdamW gives exactly the reference's bits (same float64 operations in the same order) on every path.</summary>
public unsafe class CpuAdamWTests
{
    [Theory]
    [InlineData(SimdLevel.Scalar, 37)]
    [InlineData(SimdLevel.Vector256, 1013)]
    [InlineData(SimdLevel.Vector512, 1013)]
    [InlineData(SimdLevel.Vector512, 50_001)] // several chunks, ragged end
    public void Step_and_mixed_step_give_the_reference_bits(SimdLevel level, int count)
    {
        var rng = new Random(count);
        using var p = NativeBuffer.Random(count, rng);
        using var m = NativeBuffer.Random(count, rng);
        using var v = NativeBuffer.Random(count, rng);
        for (int i = 0; i < count; i++) v.Ptr[i] = Math.Abs(v.Ptr[i]) * 1e-3f;
        using var refP = new NativeBuffer(count);
        using var refM = new NativeBuffer(count);
        using var refV = new NativeBuffer(count);
        p.Span.CopyTo(refP.Span); m.Span.CopyTo(refM.Span); v.Span.CopyTo(refV.Span);
        var half = new ushort[count];
        var refHalf = new ushort[count];
        for (int step = 1; step <= 3; step++)
        {
            using var g = NativeBuffer.Random(count, rng);
            fixed (ushort* h = half, rh = refHalf)
            {
                if (step == 2)
                {
                    using (Simd.ForceForCurrentThread(level)) CpuAdamW.StepMixed(p.Ptr, h, HalfFormat.Bf16, g.Ptr, m.Ptr, v.Ptr, count, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                    AdamW<float>.StepMixed(refP.Ptr, rh, HalfFormat.Bf16, g.Ptr, refM.Ptr, refV.Ptr, count, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                }
                else
                {
                    using (Simd.ForceForCurrentThread(level)) CpuAdamW.Step(p.Ptr, g.Ptr, m.Ptr, v.Ptr, count, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                    AdamW<float>.Step(refP.Ptr, g.Ptr, refM.Ptr, refV.Ptr, count, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
                }
            }
            Assert.Equal(refP.ToArray(), p.ToArray());
            Assert.Equal(refM.ToArray(), m.ToArray());
            Assert.Equal(refV.ToArray(), v.ToArray());
            Assert.Equal(refHalf, half);
        }
    }
}
