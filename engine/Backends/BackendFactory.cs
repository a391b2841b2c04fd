using Engine.Backends.Cpu;
using Engine.Interop.Cuda;
using Engine.Tensors;

namespace Engine.Backends;

/// <summary>Chooses the backend for `--device auto|cpu|cuda`.</summary>
public static class BackendFactory
{
    public static readonly string[] Choices = { "auto", "cpu", "cuda" };

    /// <param name="note">Why this backend was chosen, for the run's first lines.</param>
    public static IBackend Create(string device, out string note)
    {
        switch (device)
        {
            case "cpu":
                note = $"device cpu ({Environment.ProcessorCount} cores)";
                return new CpuBackend();
            case "auto":
            {
                var probe = CudaProbe.Probe();
                note = probe.Available
                    ? $"device cpu: {probe.Reason} found, but the CUDA backend is not part of this build yet"
                    : $"device cpu ({Environment.ProcessorCount} cores): {probe.Reason}";
                return new CpuBackend();
            }
            case "cuda":
            {
                var probe = CudaProbe.Probe();
                if (!probe.Available) throw new EngineException($"--device cuda: {probe.Reason}; use --device cpu or auto");
                throw new EngineException("--device cuda: the CUDA backend is not part of this build yet; use --device cpu or auto");
            }
            default:
                throw new EngineException($"--device {device} is not one of {string.Join(", ", Choices)}");
        }
    }
}
