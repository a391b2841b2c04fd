using System.Text;

namespace Engine.Interop.Cuda;

/// <summary>
/// One GPU made current on the calling thread: its primary context, a compute stream and a communication stream
/// (both non-blocking), and device memory from the driver's stream-ordered pool with the release threshold raised
/// so freed blocks stay cached for reuse (the pool is the caching allocator: no cudaMalloc/cudaFree per step).
/// </summary>
public sealed unsafe class CudaDevice : IDisposable
{
    readonly CudaPrimaryContextHandle context;
    public int Ordinal { get; }
    public string Name { get; }
    public int ComputeCapability { get; }
    public int Multiprocessors { get; }
    /// <summary>The most dynamic shared memory one block may opt in to (227 KiB on H100, 163 KiB on A100, 99 KiB on sm_86/89).</summary>
    public int MaxSharedBytesPerBlock { get; }
    public long TotalMemoryBytes { get; }
    public int DriverVersion { get; }
    public CudaStreamHandle ComputeStream { get; }
    public CudaStreamHandle CommunicationStream { get; }

    CudaDevice(int ordinal)
    {
        NativeLibraries.Require(NativeLibraries.Cuda);
        CudaError.Check(CudaDriver.cuInit(0), "cuInit");
        int count = 0, device = 0, version = 0;
        CudaError.Check(CudaDriver.cuDeviceGetCount(&count), "cuDeviceGetCount");
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"CUDA device {ordinal} does not exist: this machine has {count} (0..{count - 1})");
        CudaError.Check(CudaDriver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        CudaError.Check(CudaDriver.cuDriverGetVersion(&version), "cuDriverGetVersion");
        nint ctx;
        CudaError.Check(CudaDriver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
        context = new CudaPrimaryContextHandle(ctx, device);
        MakeCurrent();
        Ordinal = ordinal;
        DriverVersion = version;
        Name = DeviceName(device);
        ComputeCapability = 10 * Attribute(device, CudaConstants.DeviceAttributeComputeCapabilityMajor) + Attribute(device, CudaConstants.DeviceAttributeComputeCapabilityMinor);
        Multiprocessors = Attribute(device, CudaConstants.DeviceAttributeMultiprocessorCount);
        MaxSharedBytesPerBlock = Attribute(device, CudaConstants.DeviceAttributeMaxSharedMemoryPerBlockOptin);
        nuint total;
        CudaError.Check(CudaDriver.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem");
        TotalMemoryBytes = (long)total;

        nint pool;
        CudaError.Check(CudaDriver.cuDeviceGetDefaultMemPool(&pool, device), "cuDeviceGetDefaultMemPool");
        ulong keepEverything = ulong.MaxValue;
        CudaError.Check(CudaDriver.cuMemPoolSetAttribute(pool, CudaConstants.MemPoolAttributeReleaseThreshold, &keepEverything), "cuMemPoolSetAttribute(RELEASE_THRESHOLD)");
        ComputeStream = CreateStream();
        CommunicationStream = CreateStream();
    }

    /// <summary>Opens a device; throws <see cref="NativeLibraryMissingException"/> without a driver and
    /// <see cref="CudaException"/> (e.g. CUDA_ERROR_NO_DEVICE) when the driver has no usable GPU.</summary>
    public static CudaDevice Open(int ordinal = 0) => new(ordinal);

    /// <summary>Driver calls act on the calling thread's current context: call this on any new thread first.</summary>
    public void MakeCurrent() => CudaError.Check(CudaDriver.cuCtxSetCurrent(context.DangerousGetHandle()), "cuCtxSetCurrent");

    public static CudaStreamHandle CreateStream()
    {
        nint stream;
        CudaError.Check(CudaDriver.cuStreamCreate(&stream, CudaConstants.StreamNonBlocking), "cuStreamCreate");
        return new CudaStreamHandle(stream);
    }

    public ulong Allocate(long bytes, CudaStreamHandle? stream = null)
    {
        ulong pointer;
        CudaError.Check(CudaDriver.cuMemAllocAsync(&pointer, (nuint)Math.Max(bytes, 1), (stream ?? ComputeStream).DangerousGetHandle()), $"cuMemAllocAsync({bytes} bytes)");
        return pointer;
    }

    public void Free(ulong pointer, CudaStreamHandle? stream = null) =>
        CudaError.Check(CudaDriver.cuMemFreeAsync(pointer, (stream ?? ComputeStream).DangerousGetHandle()), "cuMemFreeAsync");

    /// <summary>Host to device, ordered on the compute stream; returns when the source may be reused.</summary>
    public void CopyToDevice(ulong destination, void* source, long bytes)
    {
        if (bytes == 0) return;
        CudaError.Check(CudaDriver.cuMemcpyHtoDAsync(destination, source, (nuint)bytes, ComputeStream.DangerousGetHandle()), "cuMemcpyHtoDAsync");
        Synchronize(); // pageable source memory: the copy must finish before the caller's buffer may change
    }

    public void CopyToHost(void* destination, ulong source, long bytes)
    {
        if (bytes == 0) return;
        CudaError.Check(CudaDriver.cuMemcpyDtoHAsync(destination, source, (nuint)bytes, ComputeStream.DangerousGetHandle()), "cuMemcpyDtoHAsync");
        Synchronize();
    }

    /// <summary>Page-locked host memory (cuMemHostAlloc), which copies can read and write without the host waiting:
    /// FSDP's CPU-offloaded shards live there so their transfers overlap with compute.</summary>
    public nint AllocatePinned(long bytes)
    {
        void* p;
        CudaError.Check(CudaDriver.cuMemHostAlloc(&p, (nuint)Math.Max(bytes, 1), 0), $"cuMemHostAlloc({bytes} bytes)");
        return (nint)p;
    }

    public void FreePinned(nint pointer) => CudaError.Check(CudaDriver.cuMemFreeHost((void*)pointer), "cuMemFreeHost");

    /// <summary>Host (page-locked) to device, queued on <paramref name="stream"/>; the host does not wait.</summary>
    public void CopyToDeviceAsync(ulong destination, void* source, long bytes, CudaStreamHandle stream)
    {
        if (bytes == 0) return;
        CudaError.Check(CudaDriver.cuMemcpyHtoDAsync(destination, source, (nuint)bytes, stream.DangerousGetHandle()), "cuMemcpyHtoDAsync");
    }

    /// <summary>Device to host (page-locked), queued on <paramref name="stream"/>; the host does not wait.</summary>
    public void CopyToHostAsync(void* destination, ulong source, long bytes, CudaStreamHandle stream)
    {
        if (bytes == 0) return;
        CudaError.Check(CudaDriver.cuMemcpyDtoHAsync(destination, source, (nuint)bytes, stream.DangerousGetHandle()), "cuMemcpyDtoHAsync");
    }

    public void CopyOnDevice(ulong destination, ulong source, long bytes)
    {
        if (bytes == 0) return;
        CudaError.Check(CudaDriver.cuMemcpyDtoDAsync(destination, source, (nuint)bytes, ComputeStream.DangerousGetHandle()), "cuMemcpyDtoDAsync");
    }

    public void Zero(ulong destination, long bytes)
    {
        if (bytes == 0) return;
        CudaError.Check(CudaDriver.cuMemsetD8Async(destination, 0, (nuint)bytes, ComputeStream.DangerousGetHandle()), "cuMemsetD8Async");
    }

    public void Synchronize() => CudaError.Check(CudaDriver.cuStreamSynchronize(ComputeStream.DangerousGetHandle()), "cuStreamSynchronize");

    public (long Free, long Total) MemoryInfo()
    {
        nuint free, total;
        CudaError.Check(CudaDriver.cuMemGetInfo(&free, &total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    static int Attribute(int device, int attribute)
    {
        int value;
        CudaError.Check(CudaDriver.cuDeviceGetAttribute(&value, attribute, device), $"cuDeviceGetAttribute({attribute})");
        return value;
    }

    static string DeviceName(int device)
    {
        byte* buffer = stackalloc byte[256];
        CudaError.Check(CudaDriver.cuDeviceGetName(buffer, 256, device), "cuDeviceGetName");
        int length = 0;
        while (length < 256 && buffer[length] != 0) length++;
        return Encoding.UTF8.GetString(buffer, length);
    }

    public void Dispose()
    {
        if (context.IsClosed) return;
        try { MakeCurrent(); CudaDriver.cuCtxSynchronize(); } catch (CudaException) { }
        ComputeStream.Dispose();
        CommunicationStream.Dispose();
        context.Dispose();
    }
}
