using Engine.Interop.Nvtx;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Profiling;

/// <summary>
/// Wraps a backend and times every compute op (memory management and copies pass straight through) with the clock
/// it is given: on the GPU the device's own (<see cref="Cuda.CudaEventClock"/>, CUDA events around the op's kernels),
/// by default the host's wall time of the call (<see cref="HostOpClock"/>). Each op is waited for before the next
/// starts, so time is charged to the op that queued the work; that costs some speed, so it is only used when a user
/// asks for a profile. Times go to <see cref="OpTimes"/>, keyed by op name.
/// </summary>
public sealed partial class ProfilingBackend(IBackend inner, IOpClock? clock = null) : IBackend
{
    public OpTimes Times { get; } = new();
    public IBackend Inner => inner;
    public HalfStorageOps NativeHalfStorage => inner.NativeHalfStorage;
    public HalfFormat? HalfMatmulOperands => inner.HalfMatmulOperands;
    public StorageFormat ValueStorage => inner.ValueStorage;
    // Where the backend underneath is its own fp32 backend (the device), the fp32 state's ops (mixed precision's
    // AdamW on the master weights) go through this profiler too, so they are timed rather than left "outside ops".
    public IBackend Fp32Backend => ReferenceEquals(inner.Fp32Backend, inner) ? this : inner.Fp32Backend;
    readonly IOpClock clock = clock ?? new HostOpClock(inner);

    T Timed<T>(string op, Func<T> body)
    {
        using var range = Nvtx.Range(op);
        T value = default!;
        Times.Add(op, clock.Time(() => value = body()));
        return value;
    }

    void Timed(string op, Action body) => Timed(op, () => { body(); return 0; });

    public string Name => inner.Name;
    public bool IsHost => inner.IsHost;
    public long AllocatedBytes => inner.AllocatedBytes;
    public long PeakAllocatedBytes => inner.PeakAllocatedBytes;
    public Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged => inner.Allocate<T>(count, purpose);
    public void Free<T>(Slice<T> slice) where T : unmanaged => inner.Free(slice);
    public void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged => inner.CopyIn(source, destination);
    public void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged => inner.CopyOut(source, destination);
    public void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged => inner.Copy(source, destination);
    public void Zero<T>(Slice<T> destination) where T : unmanaged => Timed("zero", () => inner.Zero(destination));
    public void Synchronize() => inner.Synchronize();
    public void Dispose()
    {
        clock.Dispose();
        inner.Dispose();
    }

    // The op members (each timed under its op's profile name) are generated from ops/*/*.ops: ProfilingBackend.Ops.g.cs.
}
