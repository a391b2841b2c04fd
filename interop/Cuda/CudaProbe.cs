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
        if (NativeLibraries.TryLoadLogical(NativeLibraries.Cuda) is null)
            return NativeLibraries.EmulatorSelected
                ? new(false, 0, $"{NativeLibraries.EmulatorVariable}=1 but {NativeLibraries.EmulatorLibrary} is not built (cmake -S . -B build/kernels && cmake --build build/kernels)")
                : new(false, 0, "no NVIDIA driver: libcuda.so.1 not found");
        try
        {
            int status = CudaDriver.cuInit(0);
            if (status != 0) return new(false, 0, $"cuInit: {CudaError.Name(status)}");
            int devices = 0;
            status = CudaDriver.cuDeviceGetCount(&devices);
            if (status != 0) return new(false, 0, $"cuDeviceGetCount: {CudaError.Name(status)}");
            string what = NativeLibraries.EmulatorSelected ? "emulated CUDA device(s) (ENGINE_CUDA_EMULATOR=1: kernels run on the CPU)" : "CUDA device(s)";
            return devices > 0 ? new(true, devices, $"{devices} {what}") : new(false, 0, "the driver reports no CUDA device");
        }
        catch (EntryPointNotFoundException e) { return new(false, 0, $"libcuda.so.1 lacks {e.Message}"); }
    }
}
