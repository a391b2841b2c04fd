using Engine.Backends.Cpu;
using Engine.Backends.Profiling;
using Engine.Precision;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// The mixed-precision ops through the profiling backend. The ops' own tests are in their families' folders:
/// ops/precision/tests (casts, unscaling) and ops/optimizer/tests (AdamW with a 16-bit copy); this one spans both
/// families and checks the interceptor, not a kernel.
/// </summary>
public class MixedPrecisionOpTests
{
    /// <summary>--profile wraps the backend: the new ops must reach the inner one and be timed under their names.</summary>
    [Fact]
    public void The_profiling_backend_forwards_and_times_the_mixed_precision_ops()
    {
        using var profiled = new ProfilingBackend(new CpuBackend());
        var x = Upload(profiled, new[] { 1f, 2.5f, -3f });
        var half = profiled.Allocate<ushort>(3, "t");
        profiled.CastToHalf(half, x, HalfFormat.Bf16);
        var back = profiled.Allocate<float>(3, "t");
        profiled.CastFromHalf(back, half, HalfFormat.Bf16);
        Assert.Equal(new[] { 1f, 2.5f, -3f }, Download(profiled, back));
        var m = profiled.Allocate<float>(3, "m");
        var v = profiled.Allocate<float>(3, "v");
        profiled.AdamWMixed(x, half, HalfFormat.Fp16, back, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        Assert.Equal(Fp16.FromFloat(Download(profiled, x)[1]), Download(profiled, half)[1]);
        Assert.False(profiled.UnscaleAndCheckFinite(Upload(profiled, new[] { float.NaN }), 2f));
        var ops = profiled.Times.Sorted().Select(t => t.Op).ToHashSet();
        foreach (var op in new[] { "cast to half", "cast from half", "adamw mixed", "unscale gradients" }) Assert.Contains(op, ops);
    }
}
