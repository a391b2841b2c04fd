namespace Engine.Interop.Cuda;

/// <summary>
/// Answers "is there a usable CUDA GPU?" without throwing: loads the driver (libcuda.so.1), initialises it and counts
/// devices. `--device auto` and the GPU tests' skip use it.
/// </summary>
public static unsafe class CudaProbe
{
    public sealed record Result(bool Available, int DeviceCount, string Reason);

    public static Result Probe()
    {
        if (NativeLibraries.TryLoadLogical(NativeLibraries.Cuda) is null) return new(false, 0, "no NVIDIA driver: libcuda.so.1 not found");
        try
        {
            int status = CudaDriver.cuInit(0);
            if (status != 0) return new(false, 0, $"cuInit: {CudaError.Name(status)}");
            int devices = 0;
            status = CudaDriver.cuDeviceGetCount(&devices);
            if (status != 0) return new(false, 0, $"cuDeviceGetCount: {CudaError.Name(status)}");
            return devices > 0 ? new(true, devices, $"{devices} CUDA device(s)") : new(false, 0, "the driver reports no CUDA device");
        }
        catch (EntryPointNotFoundException e) { return new(false, 0, $"libcuda.so.1 lacks {e.Message}"); }
    }
}
