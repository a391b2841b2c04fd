namespace Engine.Tensors;

/// <summary>
/// A device's memory and its queue, apart from the ops that compute on it: allocation, copies between host and
/// device and on the device, and waiting for queued work. What moves data (communicators, FSDP's gathers and offload,
/// checkpoints) needs only this.
/// </summary>
public interface IDeviceMemory
{
    /// <summary>True when slices are host memory the caller may read directly.</summary>
    bool IsHost { get; }

    /// <summary>Zero-filled memory; the purpose names it in out-of-memory errors.</summary>
    Slice<T> Allocate<T>(long count, string purpose) where T : unmanaged;
    /// <summary>Returns memory from <see cref="Allocate{T}"/> (the whole slice it gave).</summary>
    void Free<T>(Slice<T> slice) where T : unmanaged;
    /// <summary>Bytes allocated now and at most since the backend was made (the run folder reports the peak).</summary>
    long AllocatedBytes { get; }
    long PeakAllocatedBytes { get; }

    void CopyIn<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged;
    void CopyOut<T>(Slice<T> source, Span<T> destination) where T : unmanaged;
    void Copy<T>(Slice<T> source, Slice<T> destination) where T : unmanaged;
    void Zero<T>(Slice<T> destination) where T : unmanaged;
    /// <summary>Waits until queued work is done (a no-op on the CPU).</summary>
    void Synchronize();
}
