using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Tests.Support;

/// <summary>
/// The devices the HuggingFace fixture tests run on ("cpu", "cuda") and the fp32 tolerance each is held to: the CPU
/// at the tightest 1e-5; the GPU at fp32's 1e-4, since its matrix products sum in another order through cuBLAS.
/// </summary>
public static class FixtureDevices
{
    public static IBackend Open(string device)
    {
        if (device == "cpu") return new CpuBackend();
        Gpu.Require();
        return new CudaBackend();
    }

    public static double OutputTolerance(string device) => device == "cpu" ? 1e-5 : 1e-4;
}
