using System.Runtime.InteropServices;

namespace Engine.Interop.Cuda;

/// <summary>
/// Answers "is there a usable CUDA GPU?" without throwing: loads the driver (libcuda.so.1), initialises it and counts
/// devices. `--device auto` uses it; the full driver binding builds on the same library handle.
/// </summary>
public static unsafe class CudaProbe
{
    public sealed record Result(bool Available, int DeviceCount, string Reason);

    public static Result Probe()
    {
        var handle = NativeLibraries.TryLoad("libcuda.so.1");
        if (handle is null) return new(false, 0, "no NVIDIA driver (libcuda.so.1 not found)");
        try
        {
            var init = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(handle.Value, "cuInit");
            var count = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(handle.Value, "cuDeviceGetCount");
            int status = init(0);
            if (status != 0) return new(false, 0, $"cuInit failed with CUDA error {status}");
            int devices = 0;
            status = count(&devices);
            if (status != 0) return new(false, 0, $"cuDeviceGetCount failed with CUDA error {status}");
            return devices > 0 ? new(true, devices, $"{devices} CUDA device(s)") : new(false, 0, "the driver reports no CUDA device");
        }
        catch (EntryPointNotFoundException e) { return new(false, 0, $"libcuda.so.1 lacks {e.Message}"); }
    }
}
