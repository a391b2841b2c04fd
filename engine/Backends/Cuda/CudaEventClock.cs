using Engine.Backends.Profiling;
using Engine.Interop.Cuda;

namespace Engine.Backends.Cuda;

/// <summary>The GPU's own time for an op: CUDA events recorded around the kernels it queues on the compute stream,
/// waited for before the next op starts.</summary>
public sealed class CudaEventClock(CudaBackend gpu) : IOpClock
{
    readonly CudaTimer timer = new();

    public TimeSpan Time(Action op)
    {
        timer.Start(gpu.Device.ComputeStream);
        op();
        timer.Stop(gpu.Device.ComputeStream);
        return TimeSpan.FromMilliseconds(timer.ElapsedMilliseconds());
    }

    public void Dispose() => timer.Dispose();
}
