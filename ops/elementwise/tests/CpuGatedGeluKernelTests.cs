using Engine.Tensors;
using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The float32 gated-GELU kernel (T5) against its float64-inside reference.</summary>
public unsafe class CpuGatedGeluKernelTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 300)]
    [InlineData(3, 5000)] // a row longer than the kernel's 4096-element scratch
    public void Gated_gelu_forward_and_backward_match_the_reference(int N, int F)
    {
        var rng = new Random(N * 31 + F);
        using var x = NativeBuffer.Random(N * 2 * F, rng);
        for (int i = 0; i < N * 2 * F; i++) x.Ptr[i] *= 6; // both tails of the gate
        using var dy = NativeBuffer.Random(N * F, rng);
        using var dxStart = NativeBuffer.Random(N * 2 * F, rng);
        using var y = NativeBuffer.Filled(N * F, float.NaN);
        using var refY = NativeBuffer.Filled(N * F, float.NaN);
        using var dx = NativeBuffer.Filled(N * 2 * F, 0);
        using var refDx = NativeBuffer.Filled(N * 2 * F, 0);
        dxStart.Span.CopyTo(dx.Span);
        dxStart.Span.CopyTo(refDx.Span);
        CpuGatedGelu.Forward(y.Ptr, x.Ptr, N, F);
        CpuGatedGelu.Backward(dx.Ptr, dy.Ptr, x.Ptr, N, F, GradientWrite.Accumulate);
        GatedGelu<float>.Forward(refY.Ptr, x.Ptr, N, F);
        GatedGelu<float>.Backward(refDx.Ptr, dy.Ptr, x.Ptr, N, F);
        // Same bound as the tanh GELU kernel's test: float32 rounding of a few operations, 1e-6 of max(1, |value|),
        // far below a formula slip (≥ 1e-3).
        for (int i = 0; i < N * F; i++)
            Assert.True(Math.Abs(y.Ptr[i] - refY.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refY.Ptr[i])), $"y[{i}] = {y.Ptr[i]:R}, reference {refY.Ptr[i]:R}");
        for (int i = 0; i < N * 2 * F; i++)
            Assert.True(Math.Abs(dx.Ptr[i] - refDx.Ptr[i]) <= 1e-6 * Math.Max(1, Math.Abs(refDx.Ptr[i])), $"dx[{i}] = {dx.Ptr[i]:R}, reference {refDx.Ptr[i]:R}");
    }
}
