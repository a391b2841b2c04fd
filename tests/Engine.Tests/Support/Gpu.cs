using Engine.Interop.Cuda;

namespace Engine.Tests.Support;

/// <summary>GPU tests call <see cref="Require"/> first: without a usable CUDA device they skip, saying so.</summary>
public static class Gpu
{
    static readonly Lazy<CudaProbe.Result> Probe = new(CudaProbe.Probe);

    public static void Require() => Assert.SkipUnless(Probe.Value.Available, $"no CUDA device ({Probe.Value.Reason})");
}
