using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Interop.Cuda;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends;

/// <summary>Chooses the backend for a <see cref="DeviceKind"/> and builds the layers a precision needs over it.</summary>
public static class BackendFactory
{
    /// <param name="note">Why this backend was chosen, for the run's first lines (naming options by key).</param>
    /// <param name="ordinal">The GPU to use (a distributed launch passes its local rank: one GPU per rank).</param>
    /// <param name="precision">fp32, or a mixed precision: the 16-bit storage layer goes over the device, and a GPU
    /// is made to read every matrix-product operand in that 16-bit format (tensor cores).</param>
    public static BackendStack Create(DeviceKind device, out OptionMessage note, int ordinal = 0, PrecisionMode precision = PrecisionMode.Fp32)
    {
        var backend = CreateDevice(device, out note, ordinal, precision == PrecisionMode.Fp32 ? null : HalfFormats.Of(precision), out var gpu);
        try
        {
            var stack = new BackendStack(backend, gpu, precision);
            if (precision != PrecisionMode.Fp32)
            {
                string name = PrecisionBytes.Name(precision);
                note += $"; {name} mixed precision: activations and the weights' copy stored in {name}, fp32 arithmetic, master weights and gradients"
                    + (backend.IsHost ? "" : $", matrix products on {name} tensor cores");
            }
            return stack;
        }
        catch { backend.Dispose(); throw; }
    }

    // The one place that knows which backend it made: the stack hands the GPU to what needs it.
    static IBackend CreateDevice(DeviceKind device, out OptionMessage note, int ordinal, HalfFormat? halfMatmulOperands, out CudaBackend? gpu)
    {
        gpu = null;
        switch (device)
        {
            case DeviceKind.Cpu:
                note = OptionMessage.Plain($"device cpu ({Environment.ProcessorCount} cores)");
                return Cpu(halfMatmulOperands, ref note);
            case DeviceKind.Auto:
            {
                var probe = CudaProbe.Probe();
                if (!probe.Available)
                {
                    note = OptionMessage.Plain($"device cpu ({Environment.ProcessorCount} cores): {probe.Reason}");
                    return Cpu(halfMatmulOperands, ref note);
                }
                if (CudaBackend.IsEmulated)
                {
                    // The emulated device is for checking the CUDA path, never a silent choice: only the cuda device takes it.
                    note = Note($"device cpu ({Environment.ProcessorCount} cores): {Interop.NativeLibraries.EmulatorVariable}=1 selects the emulated CUDA device, which auto never picks; use {EngineOption.Device} cuda to run on it");
                    return Cpu(halfMatmulOperands, ref note);
                }
                if (!File.Exists(CudaBackend.DefaultFatbinPath()))
                {
                    note = OptionMessage.Plain($"device cpu: {probe.Reason} found, but no CUDA kernels beside the engine ({CudaBackend.FatbinName}): build them with `dotnet pwsh build.ps1 kernels` to train on the GPU");
                    return Cpu(halfMatmulOperands, ref note);
                }
                gpu = new CudaBackend(ordinal, halfMatmulOperands: halfMatmulOperands);
                note = OptionMessage.Plain($"device cuda: {gpu.Description}");
                return gpu;
            }
            case DeviceKind.Cuda:
            {
                var probe = CudaProbe.Probe();
                if (!probe.Available) throw new EngineException(EngineOption.Device, $"{EngineOption.Device} cuda: {probe.Reason}; use {EngineOption.Device} cpu or auto");
                if (!File.Exists(CudaBackend.DefaultFatbinPath()))
                    throw new EngineException(EngineOption.Device, $"{EngineOption.Device} cuda: {CudaBackend.DefaultFatbinPath()} is missing: build the kernels with `dotnet pwsh build.ps1 kernels` (or cmake -S . -B build/kernels && cmake --build build/kernels), then `dotnet build`");
                gpu = new CudaBackend(ordinal, halfMatmulOperands: halfMatmulOperands);
                note = OptionMessage.Plain($"device cuda: {gpu.Description}");
                return gpu;
            }
            default:
                throw new EngineException(EngineOption.Device, $"{EngineOption.Device} {(int)device} is not one of auto, cpu, cuda");
        }
    }

    /// <summary>The CPU backend; for bf16 its matrix products run natively in bf16 where the CPU has AVX-512 BF16
    /// (<see cref="CpuBackend.Bf16MatmulChoice"/>: ENGINE_CPU_BF16=off keeps them staged), and the note says which.</summary>
    static CpuBackend Cpu(HalfFormat? halfMatmulOperands, ref OptionMessage note)
    {
        var (native, why) = CpuBackend.Bf16MatmulChoice(halfMatmulOperands);
        var cpu = new CpuBackend();
        if (native) cpu.UseBf16Matmul();
        if (why.Length > 0) note += $"; {why}";
        return cpu;
    }

    static OptionMessage Note(OptionMessageBuilder text) => text.Build();
}
