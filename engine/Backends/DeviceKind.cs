namespace Engine.Backends;

/// <summary>Where to compute: <see cref="BackendFactory.Create"/> turns it into a backend.</summary>
public enum DeviceKind
{
    /// <summary>The GPU when a real one and its kernels are there, else the CPU (never the emulated device).</summary>
    Auto,
    Cpu,
    /// <summary>The CUDA device (a GPU, or the emulated one when it is selected); an error when there is none.</summary>
    Cuda,
}
