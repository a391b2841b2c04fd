using Engine.Backends.Cuda;
using Engine.Interop;
using Engine.Interop.Nccl;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Collectives between GPUs over NCCL, queued on the backend's compute stream. The unique id that joins the ranks
/// is made by rank 0 and sent to the others either over a bootstrap communicator (MPI, or the single process), which
/// then also carries the host scalars (loss sums, counts), bytes, barriers and splits; or over a TCP rendezvous
/// (torchrun-style launches, no MPI), after which NCCL carries those host operations too (NcclHostCollectives).
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    readonly CudaBackend backend;
    readonly ICommunicator? bootstrap; // null: joined over TCP, and NCCL itself carries the host-side operations
    readonly NcclCommHandle comm;
    readonly CollectiveWatchdog watchdog;
    public int Rank { get; }
    public int WorldSize { get; }
    public string Transport => "nccl";
    /// <summary>The bootstrap's (MPI's host collectives and NCCL's then learn from the same steps), or this
    /// communicator's own when it was joined over TCP; groups split from it share it.</summary>
    public CollectiveDeadline Deadline { get; }

    NcclCommunicator(CudaBackend backend, ICommunicator? bootstrap, NcclCommHandle comm, int rank, int worldSize, CollectiveDeadline? deadline = null)
    {
        this.backend = backend; this.bootstrap = bootstrap; this.comm = comm;
        Rank = rank; WorldSize = worldSize;
        Deadline = deadline ?? bootstrap?.Deadline ?? CollectiveDeadline.FromEnvironment();
        watchdog = new CollectiveWatchdog($"rank {rank} of {worldSize}", Deadline, Abort,
            onThreadStart: backend.Device.MakeCurrent, asyncError: AsyncError, missing: CommunicationException.Missing(rank, worldSize));
    }

    /// <summary>Every NCCL call is watched from the moment it is queued: a peer that never joins it ends the job
    /// within the deadline (the host would otherwise block forever in a stream synchronisation).</summary>
    void Watch(Engine.Interop.Cuda.CudaStreamHandle stream, string what)
    {
        var fence = new Engine.Interop.Cuda.CudaStreamFence();
        fence.Record(stream);
        watchdog.Watch(what, fence.IsReached, fence.Dispose);
    }

    void Watch(string what) => Watch(backend.Device.ComputeStream, what);

    string? AsyncError()
    {
        int error;
        int result = NcclApi.ncclCommGetAsyncError(comm.DangerousGetHandle(), &error);
        if (result != 0) return $"{NcclResult.Name(result)} from ncclCommGetAsyncError";
        return error is 0 or NcclInProgress ? null : NcclResult.Name(error);
    }

    const int NcclInProgress = 7; // ncclInProgress: a non-blocking communicator still initialising, not a failure

    /// <summary>The watchdog's way out: the message to stderr, the communicator aborted (its kernels stop), exit with
    /// <see cref="CommunicationException.ExitCode"/> (mpirun then stops every rank; the last checkpoint is whole, since
    /// checkpoints are written then renamed).</summary>
    void Abort(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        NcclApi.ncclCommAbort(comm.DangerousGetHandle());
        Environment.Exit(CommunicationException.ExitCode);
    }

    public static NcclCommunicator Create(CudaBackend backend, ICommunicator bootstrap)
    {
        var bytes = new byte[NcclUniqueId.Bytes];
        if (bootstrap.Rank == 0) MakeUniqueId().CopyTo(bytes, 0);
        bootstrap.Broadcast(bytes, root: 0);
        backend.Device.MakeCurrent();
        var comm = NcclCommHandle.InitRank(bootstrap.WorldSize, NcclUniqueId.FromBytes(bytes), bootstrap.Rank);
        return new NcclCommunicator(backend, bootstrap, comm, bootstrap.Rank, bootstrap.WorldSize);
    }

    /// <summary>Ranks launched without MPI: rank 0's unique id reaches the others through the TCP rendezvous.</summary>
    public static NcclCommunicator Create(CudaBackend backend, TcpRendezvous rendezvous)
    {
        // A missing libnccl fails here on every rank, rather than on rank 0 alone while the others wait at the rendezvous.
        NativeLibraries.Require(NativeLibraries.Nccl);
        var bytes = rendezvous.Share(MakeUniqueId);
        backend.Device.MakeCurrent();
        var comm = NcclCommHandle.InitRank(rendezvous.WorldSize, NcclUniqueId.FromBytes(bytes), rendezvous.Rank);
        return new NcclCommunicator(backend, null, comm, rendezvous.Rank, rendezvous.WorldSize);
    }

    static byte[] MakeUniqueId()
    {
        NcclUniqueId made;
        NcclResult.Check(NcclApi.ncclGetUniqueId(&made), "ncclGetUniqueId");
        return made.ToArray();
    }

    nint Stream => backend.Device.ComputeStream.DangerousGetHandle();
    nint Comm => comm.DangerousGetHandle();

    public void AllReduceSum(Slice<float> data)
    {
        NcclResult.Check(NcclApi.ncclAllReduce((ulong)data.NativeAddress, (ulong)data.NativeAddress, (nuint)data.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, Stream), $"ncclAllReduce({data.Length} floats)");
        Watch($"all-reduce of {data.Length} floats");
    }

    /// <summary>
    /// Queued on the communication stream after everything the compute stream has queued so far (the gradients it
    /// wrote); <see cref="IPendingCollective.Wait"/> makes the compute stream's later work wait for the result. The
    /// host never blocks, so the backward pass keeps queueing kernels while NCCL runs.
    /// </summary>
    public IPendingCollective StartAllReduceSum(Slice<float> data) =>
        OnCommunicationStream(stream => NcclApi.ncclAllReduce((ulong)data.NativeAddress, (ulong)data.NativeAddress, (nuint)data.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, stream), $"ncclAllReduce({data.Length} floats, communication stream)");

    public IPendingCollective StartReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        if (send.Length != (long)WorldSize * receive.Length)
            throw new ArgumentException($"reduce-scatter: send holds {send.Length} floats, not {WorldSize} × {receive.Length}");
        return OnCommunicationStream(stream => NcclApi.ncclReduceScatter((ulong)send.NativeAddress, (ulong)receive.NativeAddress, (nuint)receive.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, stream), $"ncclReduceScatter({receive.Length} floats, communication stream)");
    }

    public IPendingCollective StartAllGather(Slice<float> send, Slice<float> receive)
    {
        if (receive.Length != (long)WorldSize * send.Length)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} floats, not {WorldSize} × {send.Length}");
        HalfStorage.RequireSameStorage(send, receive);
        int type = ElementType(send);
        return OnCommunicationStream(stream => NcclApi.ncclAllGather((ulong)send.Address, (ulong)receive.Address, (nuint)send.Length, type, Comm, stream), $"ncclAllGather({send.Length} {send.Storage} elements, communication stream)");
    }

    /// <summary>The NCCL type of a slice's elements as stored: fp32, or bf16/fp16 (what FSDP gathers under mixed precision).</summary>
    static int ElementType(Slice<float> s) => s.Storage switch
    {
        StorageFormat.Bf16 => NcclConstants.Bfloat16,
        StorageFormat.Fp16 => NcclConstants.Float16,
        _ => NcclConstants.Float32,
    };

    /// <summary>Queues one NCCL call on the communication stream, fenced after the compute stream's work so far.</summary>
    IPendingCollective OnCommunicationStream(Func<nint, int> call, string what)
    {
        var device = backend.Device;
        var ready = new Engine.Interop.Cuda.CudaStreamFence();
        ready.Record(device.ComputeStream);
        ready.MakeWait(device.CommunicationStream);
        NcclResult.Check(call(device.CommunicationStream.DangerousGetHandle()), what);
        Watch(device.CommunicationStream, what);
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

    public void AllReduceSum(Span<double> values)
    {
        if (bootstrap is not null) bootstrap.AllReduceSum(values);
        else NcclHostCollectives.AllReduceSum(backend, comm, values, Watch);
    }

    public void ReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        if (send.Length != (long)WorldSize * receive.Length)
            throw new ArgumentException($"reduce-scatter: send holds {send.Length} floats, not {WorldSize} × {receive.Length}");
        NcclResult.Check(NcclApi.ncclReduceScatter((ulong)send.NativeAddress, (ulong)receive.NativeAddress, (nuint)receive.Length, NcclConstants.Float32, NcclConstants.Sum, Comm, Stream), $"ncclReduceScatter({receive.Length} floats)");
        Watch($"reduce-scatter of {receive.Length} floats per rank");
    }

    public void AllGather(Slice<float> send, Slice<float> receive)
    {
        if (receive.Length != (long)WorldSize * send.Length)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} floats, not {WorldSize} × {send.Length}");
        HalfStorage.RequireSameStorage(send, receive);
        NcclResult.Check(NcclApi.ncclAllGather((ulong)send.Address, (ulong)receive.Address, (nuint)send.Length, ElementType(send), Comm, Stream), $"ncclAllGather({send.Length} {send.Storage} elements)");
        Watch($"all-gather of {send.Length} floats per rank");
    }

    public void Broadcast(Span<byte> data, int root)
    {
        if (bootstrap is not null) bootstrap.Broadcast(data, root);
        else NcclHostCollectives.Broadcast(backend, comm, data, root, Watch);
    }

    public void Barrier()
    {
        backend.Synchronize();
        if (bootstrap is not null) bootstrap.Barrier();
        else NcclHostCollectives.Barrier(backend, comm, Watch);
    }

    public ICommunicator Split(int color, int key)
    {
        if (bootstrap is not null) return Create(backend, bootstrap.Split(color, key));
        var group = comm.Split(color, key); // ncclCommSplit: no bootstrap needed, the parent communicator is one
        return new NcclCommunicator(backend, null, group, group.Rank, group.Count, Deadline);
    }

    /// <summary>ncclCommDestroy waits for the communicator's outstanding operations, which never finish when a peer
    /// is gone (this rank is unwinding from an error mid-step): then the communicator is aborted instead.</summary>
    public void Dispose()
    {
        bool finished = watchdog.AllDone();
        watchdog.Dispose();
        if (finished) comm.Dispose();
        else
        {
            NcclApi.ncclCommAbort(comm.DangerousGetHandle());
            comm.SetHandleAsInvalid();
        }
    }
}
