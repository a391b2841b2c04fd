using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Interop.Cuda;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// How FSDP with --cpu-offload moves one unit's block between its host shards and the compute device: up before
/// the all-gather, down after the reduce-scatter. On a GPU the shards are page-locked and both copies run on the
/// communication stream, in order with the collectives there, so the compute stream never drains for them; between
/// CPU processes the "device" is host memory too and a copy is a copy.
/// </summary>
public abstract class OffloadTransfers
{
    public static OffloadTransfers For(IBackend compute) =>
        BackendLayers.Find<CudaBackend>(compute) is { } cuda ? new CudaStreamTransfers(cuda) : new HostCopies(compute);

    /// <summary>The backend that holds the shards and runs AdamW on them.</summary>
    public abstract CpuBackend CreateShardBackend();

    /// <summary>host → device, ordered before every collective started after it; the host does not wait.</summary>
    public abstract void Upload(Slice<float> host, Slice<float> device);

    /// <summary>device → host after the collectives started before it; returns once the host may read the values.</summary>
    public abstract void Download(Slice<float> device, Slice<float> host);

    sealed class HostCopies(IBackend compute) : OffloadTransfers
    {
        public override CpuBackend CreateShardBackend() => new();
        public override void Upload(Slice<float> host, Slice<float> device) => compute.CopyIn<float>(host.Span, device);
        public override void Download(Slice<float> device, Slice<float> host) => compute.CopyOut(device, host.Span);
    }

    sealed unsafe class CudaStreamTransfers(CudaBackend compute) : OffloadTransfers
    {
        CudaDevice Device => compute.Device;

        public override CpuBackend CreateShardBackend() =>
            new(new HostMemory("page-locked", Device.AllocatePinned, Device.FreePinned));

        public override void Upload(Slice<float> host, Slice<float> device) =>
            Device.CopyToDeviceAsync((ulong)device.Address, host.Pointer, host.Bytes, Device.CommunicationStream);

        public override void Download(Slice<float> device, Slice<float> host)
        {
            // After whatever the compute stream wrote into the block too, not only the communication stream's work.
            using (var written = new CudaStreamFence())
            {
                written.Record(Device.ComputeStream);
                written.MakeWait(Device.CommunicationStream);
            }
            Device.CopyToHostAsync(host.Pointer, (ulong)device.Address, device.Bytes, Device.CommunicationStream);
            using var copied = new CudaStreamFence();
            copied.Record(Device.CommunicationStream);
            copied.WaitOnHost();
        }
    }
}
