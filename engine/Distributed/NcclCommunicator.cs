using Engine.Backends.Cuda;
using Engine.Interop.Nccl;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Collectives between GPUs over NCCL, queued on the backend's compute stream. The unique id that joins the ranks
/// is made by rank 0 and sent to the others over a bootstrap communicator (MPI, or the single process); host
/// scalars (loss sums, counts) travel over the bootstrap too.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    readonly CudaBackend backend;
    readonly ICommunicator bootstrap;
    readonly NcclCommHandle comm;
    public int Rank => bootstrap.Rank;
    public int WorldSize => bootstrap.WorldSize;
    public string Transport => "nccl";

    NcclCommunicator(CudaBackend backend, ICommunicator bootstrap, NcclCommHandle comm)
    {
        this.backend = backend; this.bootstrap = bootstrap; this.comm = comm;
    }

    public static NcclCommunicator Create(CudaBackend backend, ICommunicator bootstrap)
    {
        var bytes = new byte[NcclUniqueId.Bytes];
        if (bootstrap.Rank == 0)
        {
            NcclUniqueId made;
            NcclResult.Check(NcclApi.ncclGetUniqueId(&made), "ncclGetUniqueId");
            made.ToArray().CopyTo(bytes, 0);
        }
        bootstrap.Broadcast(bytes, root: 0);
        backend.Device.MakeCurrent();
        var comm = NcclCommHandle.InitRank(bootstrap.WorldSize, NcclUniqueId.FromBytes(bytes), bootstrap.Rank);
        return new NcclCommunicator(backend, bootstrap, comm);
    }

    nint Stream => backend.Device.ComputeStream.DangerousGetHandle();
    nint Comm => comm.DangerousGetHandle();

    public void AllReduceSum(Slice<float> data) =>
        NcclResult.Check(NcclApi.ncclAllReduce((ulong)data.Address, (ulong)data.Address, (nuint)data.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, Stream), $"ncclAllReduce({data.Length} floats)");

    /// <summary>
    /// Queued on the communication stream after everything the compute stream has queued so far (the gradients it
    /// wrote); <see cref="IPendingCollective.Wait"/> makes the compute stream's later work wait for the result. The
    /// host never blocks, so the backward pass keeps queueing kernels while NCCL runs.
    /// </summary>
    public IPendingCollective StartAllReduceSum(Slice<float> data)
    {
        var device = backend.Device;
        var ready = new Engine.Interop.Cuda.CudaStreamFence();
        ready.Record(device.ComputeStream);
        ready.MakeWait(device.CommunicationStream);
        nint comms = device.CommunicationStream.DangerousGetHandle();
        NcclResult.Check(NcclApi.ncclAllReduce((ulong)data.Address, (ulong)data.Address, (nuint)data.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, comms), $"ncclAllReduce({data.Length} floats, communication stream)");
        var done = new Engine.Interop.Cuda.CudaStreamFence();
        done.Record(device.CommunicationStream);
        return new StreamPending(ready, done, device.ComputeStream);
    }

    sealed class StreamPending(Engine.Interop.Cuda.CudaStreamFence ready, Engine.Interop.Cuda.CudaStreamFence done, Engine.Interop.Cuda.CudaStreamHandle compute) : IPendingCollective
    {
        public void Wait()
        {
            done.MakeWait(compute);
            ready.Dispose(); done.Dispose(); // destroying a recorded event is allowed: CUDA frees it once it completes
        }
    }

    public void AllReduceSum(Span<double> values) => bootstrap.AllReduceSum(values);

    public void ReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        if (send.Length != (long)WorldSize * receive.Length)
            throw new ArgumentException($"reduce-scatter: send holds {send.Length} floats, not {WorldSize} × {receive.Length}");
        NcclResult.Check(NcclApi.ncclReduceScatter((ulong)send.Address, (ulong)receive.Address, (nuint)receive.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, Stream), $"ncclReduceScatter({receive.Length} floats)");
    }

    public void AllGather(Slice<float> send, Slice<float> receive)
    {
        if (receive.Length != (long)WorldSize * send.Length)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} floats, not {WorldSize} × {send.Length}");
        NcclResult.Check(NcclApi.ncclAllGather((ulong)send.Address, (ulong)receive.Address, (nuint)send.Length, NcclConstants.Float32, Comm, Stream), $"ncclAllGather({send.Length} floats)");
    }

    public void Broadcast(Span<byte> data, int root) => bootstrap.Broadcast(data, root);
    public void Barrier() { backend.Synchronize(); bootstrap.Barrier(); }

    public ICommunicator Split(int color, int key) =>
        Create(backend, bootstrap.Split(color, key));

    public void Dispose() => comm.Dispose();
}
