using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Interop.Cuda;
using Engine.Tensors;

namespace Engine.Backends;

/// <summary>Chooses the backend for `--device auto|cpu|cuda`.</summary>
public static class BackendFactory
{
    public static readonly string[] Choices = { "auto", "cpu", "cuda" };

    /// <param name="note">Why this backend was chosen, for the run's first lines.</param>
    /// <param name="ordinal">The GPU to use (a distributed launch passes its local rank: one GPU per rank).</param>
    public static IBackend Create(string device, out string note, int ordinal = 0)
    {
        switch (device)
        {
            case "cpu":
                note = $"device cpu ({Environment.ProcessorCount} cores)";
                return new CpuBackend();
            case "auto":
            {
                var probe = CudaProbe.Probe();
                if (!probe.Available)
                {
                    note = $"device cpu ({Environment.ProcessorCount} cores): {probe.Reason}";
                    return new CpuBackend();
                }
                if (CudaBackend.IsEmulated)
                {
                    // The emulated device is for checking the CUDA path, never a silent choice: only --device cuda takes it.
                    note = $"device cpu ({Environment.ProcessorCount} cores): {Interop.NativeLibraries.EmulatorVariable}=1 selects the emulated CUDA device, which auto never picks; use --device cuda to run on it";
                    return new CpuBackend();
                }
                if (!File.Exists(CudaBackend.DefaultFatbinPath()))
                {
                    note = $"device cpu: {probe.Reason} found, but no CUDA kernels beside the engine ({CudaBackend.FatbinName}): build them with `dotnet pwsh build.ps1 kernels` to train on the GPU";
                    return new CpuBackend();
                }
                var gpu = new CudaBackend(ordinal);
                note = $"device cuda: {gpu.Description}";
                return gpu;
            }
            case "cuda":
            {
                var probe = CudaProbe.Probe();
                if (!probe.Available) throw new EngineException($"--device cuda: {probe.Reason}; use --device cpu or auto");
                if (!File.Exists(CudaBackend.DefaultFatbinPath()))
                    throw new EngineException($"--device cuda: {CudaBackend.DefaultFatbinPath()} is missing: build the kernels with `dotnet pwsh build.ps1 kernels` (or cmake -S . -B build/kernels && cmake --build build/kernels), then `dotnet build`");
                var gpu = new CudaBackend(ordinal);
                note = $"device cuda: {gpu.Description}";
                return gpu;
            }
            default:
                throw new EngineException($"--device {device} is not one of {string.Join(", ", Choices)}");
        }
    }
}
