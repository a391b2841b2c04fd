using Engine.Tensors;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The vectorized float32 GELU against the float64 reference.</summary>
public unsafe class CpuGeluTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(40_000)] // several parallel chunks, with a ragged last one
    public void Forward_and_backward_match_the_reference(int count)
    {
        var rng = new Random(count);
        using var x = NativeBuffer.Random(count, rng);
        for (int i = 0; i < count; i++) x.Ptr[i] *= 6; // [-6, 6]: both tails and the curved middle
        using var dy = NativeBuffer.Random(count, rng);
        using var dxStart = NativeBuffer.Random(count, rng);

        using var y = NativeBuffer.Filled(count, float.NaN);
        using var dx = NativeBuffer.Filled(count, 0);
        dxStart.Span.CopyTo(dx.Span);
        CpuGelu.Forward(y.Ptr, x.Ptr, count);
        CpuGelu.Backward(dx.Ptr, dy.Ptr, x.Ptr, count, GradientWrite.Accumulate);

        using var refY = NativeBuffer.Filled(count, 0);
        using var refDx = NativeBuffer.Filled(count, 0);
        dxStart.Span.CopyTo(refDx.Span);
        GeluTanh<float>.Forward(refY.Ptr, x.Ptr, count);
        GeluTanh<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, count);

        // Float32 tanh is accurate to a few ulps; the products add a few more: 1e-6 absolute on values of
        // order 1 (y ≤ 6, dx ≤ ~2) leaves room for that and catches any formula slip (≥ 1e-3).
        for (int i = 0; i < count; i++)
        {
            Assert.True(Math.Abs(y.Ptr[i] - refY.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refY.Ptr[i])), $"y[{i}] = {y.Ptr[i]:R}, reference {refY.Ptr[i]:R} (x = {x.Ptr[i]:R})");
            Assert.True(Math.Abs(dx.Ptr[i] - refDx.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refDx.Ptr[i])), $"dx[{i}] = {dx.Ptr[i]:R}, reference {refDx.Ptr[i]:R} (x = {x.Ptr[i]:R})");
        }
    }
}
