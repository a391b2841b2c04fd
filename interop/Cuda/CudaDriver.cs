using System.Runtime.InteropServices;

namespace Engine.Interop.Cuda;

/// <summary>
/// Raw CUDA driver API entry points (cuda.h), one line each. Types: handles are nint, CUdeviceptr is ulong, size_t is
/// nuint; every call returns a CUresult (0 = success) that callers pass to <see cref="CudaError.Check"/>. The _v2
/// entry points are the ones cuda.h maps the plain names to since CUDA 4/11; they exist in drivers for CUDA 12 and 13.
/// </summary>
public static unsafe partial class CudaDriver
{
    const string Lib = NativeLibraries.Cuda;

    // ---- errors, driver, devices --------------------------------------------------------------------
    [LibraryImport(Lib)] public static partial int cuGetErrorName(int error, byte** name);
    [LibraryImport(Lib)] public static partial int cuGetErrorString(int error, byte** text);
    [LibraryImport(Lib)] public static partial int cuInit(uint flags);
    [LibraryImport(Lib)] public static partial int cuDriverGetVersion(int* version);
    [LibraryImport(Lib)] public static partial int cuDeviceGetCount(int* count);
    [LibraryImport(Lib)] public static partial int cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Lib)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Lib, EntryPoint = "cuDeviceTotalMem_v2")] public static partial int cuDeviceTotalMem(nuint* bytes, int device);
    [LibraryImport(Lib)] public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);

    // ---- contexts -------------------------------------------------------------------------------------
    [LibraryImport(Lib)] public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] public static partial int cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(Lib)] public static partial int cuCtxSetCurrent(nint context);
    [LibraryImport(Lib)] public static partial int cuCtxSynchronize();
    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")] public static partial int cuMemGetInfo(nuint* free, nuint* total);

    // ---- memory: synchronous, stream-ordered (the driver's pool), pinned host -------------------------
    [LibraryImport(Lib, EntryPoint = "cuMemAlloc_v2")] public static partial int cuMemAlloc(ulong* pointer, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemFree_v2")] public static partial int cuMemFree(ulong pointer);
    [LibraryImport(Lib)] public static partial int cuMemAllocAsync(ulong* pointer, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemFreeAsync(ulong pointer, nint stream);
    [LibraryImport(Lib)] public static partial int cuDeviceGetDefaultMemPool(nint* pool, int device);
    [LibraryImport(Lib)] public static partial int cuMemPoolSetAttribute(nint pool, int attribute, void* value);
    [LibraryImport(Lib)] public static partial int cuMemPoolTrimTo(nint pool, nuint minBytesToKeep);
    [LibraryImport(Lib)] public static partial int cuMemHostAlloc(void** pointer, nuint bytes, uint flags);
    [LibraryImport(Lib)] public static partial int cuMemFreeHost(void* pointer);

    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoD_v2")] public static partial int cuMemcpyHtoD(ulong destination, void* source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoH_v2")] public static partial int cuMemcpyDtoH(void* destination, ulong source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoD_v2")] public static partial int cuMemcpyDtoD(ulong destination, ulong source, nuint bytes);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyHtoDAsync_v2")] public static partial int cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoHAsync_v2")] public static partial int cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Lib, EntryPoint = "cuMemcpyDtoDAsync_v2")] public static partial int cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);
    [LibraryImport(Lib)] public static partial int cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

    // ---- streams and events ---------------------------------------------------------------------------
    [LibraryImport(Lib)] public static partial int cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuStreamDestroy_v2")] public static partial int cuStreamDestroy(nint stream);
    [LibraryImport(Lib)] public static partial int cuStreamSynchronize(nint stream);
    [LibraryImport(Lib)] public static partial int cuStreamWaitEvent(nint stream, nint @event, uint flags);
    [LibraryImport(Lib)] public static partial int cuEventCreate(nint* @event, uint flags);
    [LibraryImport(Lib, EntryPoint = "cuEventDestroy_v2")] public static partial int cuEventDestroy(nint @event);
    [LibraryImport(Lib)] public static partial int cuEventRecord(nint @event, nint stream);
    [LibraryImport(Lib)] public static partial int cuEventSynchronize(nint @event);
    [LibraryImport(Lib)] public static partial int cuEventQuery(nint @event);
    [LibraryImport(Lib)] public static partial int cuEventElapsedTime(float* milliseconds, nint start, nint end);

    // ---- modules and launches -------------------------------------------------------------------------
    [LibraryImport(Lib)] public static partial int cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Lib)] public static partial int cuModuleUnload(nint module);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int cuModuleGetFunction(nint* function, nint module, string name);
    [LibraryImport(Lib)] public static partial int cuFuncSetAttribute(nint function, int attribute, int value);
    [LibraryImport(Lib)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** parameters, void** extra);

    // ---- graphs (stream capture) ----------------------------------------------------------------------
    [LibraryImport(Lib, EntryPoint = "cuStreamBeginCapture_v2")] public static partial int cuStreamBeginCapture(nint stream, int mode);
    [LibraryImport(Lib)] public static partial int cuStreamEndCapture(nint stream, nint* graph);
    [LibraryImport(Lib)] public static partial int cuGraphInstantiateWithFlags(nint* graphExec, nint graph, ulong flags);
    [LibraryImport(Lib)] public static partial int cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(Lib)] public static partial int cuGraphExecDestroy(nint graphExec);
    [LibraryImport(Lib)] public static partial int cuGraphDestroy(nint graph);
}

/// <summary>The cuda.h constants the engine passes.</summary>
public static class CudaConstants
{
    public const int DeviceAttributeMultiprocessorCount = 16;
    public const int DeviceAttributeComputeCapabilityMajor = 75;
    public const int DeviceAttributeComputeCapabilityMinor = 76;
    public const int DeviceAttributeMaxSharedMemoryPerBlockOptin = 97;
    public const uint StreamNonBlocking = 1;
    public const uint EventDefault = 0, EventDisableTiming = 2;
    public const int MemPoolAttributeReleaseThreshold = 4;
    public const int StreamCaptureModeThreadLocal = 1;
    public const int FunctionAttributeMaxDynamicSharedSizeBytes = 8;
}
