using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Interop;
using Engine.Interop.Cuda;

namespace Engine.Tests.Support;

/// <summary>
/// GPU tests call <see cref="Require"/> first. On a machine without an NVIDIA driver they run on the emulated CUDA
/// device (emulator/, docs/emulator.md) when it is built: the test process then sets ENGINE_CUDA_EMULATOR=1 before
/// any CUDA library loads, so the trainer processes it starts inherit it too. Without either they skip, saying so.
/// ENGINE_CUDA_EMULATOR=0 keeps the emulator out.
/// </summary>
public static class Gpu
{
    static readonly Lazy<CudaProbe.Result> Probe = new(CudaProbe.Probe);

    public static void Require() => Assert.SkipUnless(Probe.Value.Available, $"no CUDA device ({Probe.Value.Reason})");

    /// <summary>Whether the GPU tests run on the emulated device (small shapes suffice there; speed means nothing).</summary>
    public static bool Emulated => NativeLibraries.EmulatorSelected;

#pragma warning disable CA2255 // the choice must be made before any test loads a CUDA library
    [ModuleInitializer]
    internal static void SelectEmulatorWithoutGpu()
    {
        if (Environment.GetEnvironmentVariable(NativeLibraries.EmulatorVariable) is { Length: > 0 }) return; // the caller chose
        if (RealGpuPresent()) return;
        if (NativeLibraries.EmulatorLibraryPath() != null) Environment.SetEnvironmentVariable(NativeLibraries.EmulatorVariable, "1");
    }

    /// <summary>Asks libcuda.so.1 directly (not through NativeLibraries, which would keep it loaded for the process):
    /// a driver package can be installed on a machine without a GPU, where cuInit answers CUDA_ERROR_NO_DEVICE.</summary>
    static unsafe bool RealGpuPresent()
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var driver)) return false;
        try
        {
            if (!NativeLibrary.TryGetExport(driver, "cuInit", out var init) || !NativeLibrary.TryGetExport(driver, "cuDeviceGetCount", out var getCount)) return false;
            if (((delegate* unmanaged<uint, int>)init)(0) != 0) return false;
            int count = 0;
            return ((delegate* unmanaged<int*, int>)getCount)(&count) == 0 && count > 0;
        }
        finally { NativeLibrary.Free(driver); }
    }
#pragma warning restore CA2255
}
