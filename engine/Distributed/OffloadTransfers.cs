using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Backends.Cuda;
using Engine.Interop.Cuda;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// How FSDP with CPU offload moves one unit's block between its host shards and the compute device: up before
/// the all-gather, down after the reduce-scatter. On a GPU the shards are page-locked and both copies run on the
/// communication stream, in order with the collectives there, so the compute stream never drains for them; between
/// CPU processes the "device" is host memory too and a copy is a copy.
/// </summary>
public abstract class OffloadTransfers
{
    /// <summary>Copies on the GPU's communication stream when the run has a GPU, plain host copies otherwise.</summary>
    public static OffloadTransfers For(BackendStack backends) =>
        backends.Gpu is { } cuda ? new CudaStreamTransfers(cuda) : new HostCopies(backends.Compute);

    /// <summary>The backend that holds the shards and runs AdamW on them.</summary>
    public abstract CpuBackend CreateShardBackend();

    /// <summary>host → device, ordered before every collective started after it; the host does not wait. The
    /// elements' bytes are copied as stored (fp32, or the 16-bit copy FSDP gathers under mixed precision).</summary>
    public abstract void Upload(Slice<float> host, Slice<float> device);

    /// <summary>device → host after the collectives started before it; returns once the host may read the values.</summary>
    public abstract void Download(Slice<float> device, Slice<float> host);

    /// <summary>A slice's memory as bytes, whatever its element storage.</summary>
    static Slice<byte> AsBytes(Slice<float> s) => new(s.Address, s.Bytes);

    sealed unsafe class HostCopies(IBackend compute) : OffloadTransfers
    {
        public override CpuBackend CreateShardBackend() => new();
        public override void Upload(Slice<float> host, Slice<float> device)
        {
            HalfStorage.RequireSameStorage(host, device);
            compute.CopyIn<byte>(new ReadOnlySpan<byte>((void*)host.Address, checked((int)host.Bytes)), AsBytes(device));
        }
        public override void Download(Slice<float> device, Slice<float> host)
        {
            HalfStorage.RequireSameStorage(device, host);
            compute.CopyOut(AsBytes(device), new Span<byte>((void*)host.Address, checked((int)host.Bytes)));
        }
    }

    sealed unsafe class CudaStreamTransfers(CudaBackend compute) : OffloadTransfers
    {
        CudaDevice Device => compute.Device;

        public override CpuBackend CreateShardBackend() =>
            new(new HostMemory("page-locked", Device.AllocatePinned, Device.FreePinned));

        public override void Upload(Slice<float> host, Slice<float> device)
        {
            HalfStorage.RequireSameStorage(host, device);
            Device.CopyToDeviceAsync((ulong)device.Address, (void*)host.Address, host.Bytes, Device.CommunicationStream);
        }

        public override void Download(Slice<float> device, Slice<float> host)
        {
            // After whatever the compute stream wrote into the block too, not only the communication stream's work.
            using (var written = new CudaStreamFence())
            {
                written.Record(Device.ComputeStream);
                written.MakeWait(Device.CommunicationStream);
            }
            HalfStorage.RequireSameStorage(device, host);
            Device.CopyToHostAsync((void*)host.Address, (ulong)device.Address, device.Bytes, Device.CommunicationStream);
            using var copied = new CudaStreamFence();
            copied.Record(Device.CommunicationStream);
            copied.WaitOnHost();
        }
    }
}
