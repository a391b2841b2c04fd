using System.Diagnostics;
using Engine.Tensors;

namespace Engine.Backends.Profiling;

/// <summary>How <see cref="ProfilingBackend"/> times one op: given at construction, so the profiler never asks which
/// backend is underneath (a GPU's own clock is <see cref="Cuda.CudaEventClock"/>).</summary>
public interface IOpClock : IDisposable
{
    /// <summary>Runs <paramref name="op"/> and returns how long the device took for the work it queued.</summary>
    TimeSpan Time(Action op);
}

/// <summary>The host's wall time around the op, with the backend drained before and after, so the time is the op's
/// own (what the CPU backend, which runs ops in the call, needs).</summary>
public sealed class HostOpClock(IBackend backend) : IOpClock
{
    public TimeSpan Time(Action op)
    {
        backend.Synchronize();
        long start = Stopwatch.GetTimestamp();
        op();
        backend.Synchronize();
        return Stopwatch.GetElapsedTime(start);
    }

    public void Dispose() { }
}
