using Engine.Backends.Cuda;
using Engine.Backends.Mixed;
using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends;

/// <summary>
/// What <see cref="BackendFactory"/> builds for one precision on one device, each part named, so what needs a part
/// is given it rather than looking for it under the layers: <see cref="Compute"/>, where the model's ops run (the
/// 16-bit storage layer over the device under mixed precision); <see cref="Device"/>, the device's own backend (fp32
/// state: master weights, moments); <see cref="Mixed"/>, the 16-bit storage layer when there is one (its staging
/// counts); <see cref="Gpu"/>, the CUDA backend when the device is a GPU (NCCL, copy streams, event clocks).
/// </summary>
public sealed class BackendStack : IDisposable
{
    public BackendStack(IBackend device, CudaBackend? gpu, PrecisionMode precision)
    {
        Device = device;
        Gpu = gpu;
        Precision = precision;
        Mixed = precision == PrecisionMode.Fp32 ? null : new MixedPrecisionBackend(device, precision);
    }

    public IBackend Device { get; }
    public CudaBackend? Gpu { get; }
    public PrecisionMode Precision { get; }
    public MixedPrecisionBackend? Mixed { get; }
    public IBackend Compute => (IBackend?)Mixed ?? Device;

    /// <summary>Disposes the device (the storage layer holds nothing of its own but scratch on the device).</summary>
    public void Dispose() => Device.Dispose();
}
