using Engine.Tensors;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The float32 exact-GELU kernel (BERT) against its reference.</summary>
public unsafe class CpuGeluErfTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(40_000)]
    public void Exact_gelu_forward_and_backward_match_the_reference(int count)
    {
        var rng = new Random(count + 5);
        using var x = NativeBuffer.Random(count, rng);
        for (int i = 0; i < count; i++) x.Ptr[i] *= 8; // [-8, 8]: both tails, where Φ or 1 − Φ is tiny
        using var dy = NativeBuffer.Random(count, rng);
        using var dxStart = NativeBuffer.Random(count, rng);
        using var y = NativeBuffer.Filled(count, float.NaN);
        using var dx = NativeBuffer.Filled(count, 0);
        dxStart.Span.CopyTo(dx.Span);
        CpuGeluErf.Forward(y.Ptr, x.Ptr, count);
        CpuGeluErf.Backward(dx.Ptr, dy.Ptr, x.Ptr, count, GradientWrite.Accumulate);
        using var refY = NativeBuffer.Filled(count, 0);
        using var refDx = NativeBuffer.Filled(count, 0);
        dxStart.Span.CopyTo(refDx.Span);
        GeluErf<float>.Forward(refY.Ptr, x.Ptr, count);
        GeluErf<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, count);
        // The erfc fit's fractional error is below 1.2e-7 and float32 rounding adds a few 1e-8: 1e-6 of max(1, |value|)
        // holds that with room and catches any formula slip (≥ 1e-3).
        for (int i = 0; i < count; i++)
        {
            Assert.True(Math.Abs(y.Ptr[i] - refY.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refY.Ptr[i])), $"y[{i}] = {y.Ptr[i]:R}, reference {refY.Ptr[i]:R} (x = {x.Ptr[i]:R})");
            Assert.True(Math.Abs(dx.Ptr[i] - refDx.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refDx.Ptr[i])), $"dx[{i}] = {dx.Ptr[i]:R}, reference {refDx.Ptr[i]:R} (x = {x.Ptr[i]:R})");
        }
    }
}
