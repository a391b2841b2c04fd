using Engine.Interop;
using Engine.Interop.Mpi;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Collectives between CPU processes over Open MPI (launched by mpirun). Tensors must be host memory (the CPU
/// backend's). MPI is initialised once per process, with errors returned rather than aborting, so a failure
/// becomes an exception naming the call; it is finalised at process exit. Every collective is started non-blocking
/// and waited for with a deadline (<see cref="Deadline"/>, learnt from the run's steps), so a rank that never arrives (a
/// stuck or missing process) ends the run with a <see cref="CommunicationException"/> naming the collective instead of a
/// hang; the failing rank's exit makes mpirun stop the others.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    readonly nint comm;
    readonly bool owned;
    public int Rank { get; }
    public int WorldSize { get; }
    public string Transport => "mpi";

    /// <summary>How long a collective may wait for the other ranks; shared with the communicators split from this one.</summary>
    public CollectiveDeadline Deadline { get; init; } = CollectiveDeadline.FromEnvironment();

    /// <summary>Waits for a started collective, polling, until the deadline.</summary>
    void Wait(nint request, string what)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        var spin = new SpinWait();
        while (true)
        {
            int done;
            MpiError.Check(MpiApi.MPI_Test(&request, &done, null), $"MPI_Test({what})");
            if (done != 0) return;
            if (deadline.Elapsed > Deadline.Current)
            {
                failed = true;
                throw CommunicationException.TimedOut($"rank {Rank} of {WorldSize}", what, Deadline, CommunicationException.Missing(Rank, WorldSize));
            }
            if (spin.Count < 100) spin.SpinOnce(); else Thread.Sleep(1);
        }
    }

    MpiCommunicator(nint comm, bool owned)
    {
        this.comm = comm; this.owned = owned;
        int rank, size;
        MpiError.Check(MpiApi.MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
        MpiError.Check(MpiApi.MPI_Comm_size(comm, &size), "MPI_Comm_size");
        Rank = rank; WorldSize = size;
    }

    static readonly object InitGate = new();
    static bool initialised;
    static volatile bool failed;

    /// <summary>MPI_COMM_WORLD of this process (initialising MPI on first use).</summary>
    public static MpiCommunicator World()
    {
        lock (InitGate)
        {
            if (!initialised)
            {
                NativeLibraries.Require(NativeLibraries.Mpi);
                int flag;
                MpiError.Check(MpiApi.MPI_Initialized(&flag), "MPI_Initialized");
                if (flag == 0)
                {
                    int provided;
                    MpiError.Check(MpiApi.MPI_Init_thread(null, null, MpiApi.ThreadSerialized, &provided), "MPI_Init_thread");
                    AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                    {
                        int done;
                        if (MpiApi.MPI_Finalized(&done) != 0 || done != 0) return;
                        // A rank that failed must not wait in MPI_Finalize for peers that are waiting for it: abort the
                        // whole job, which mpirun turns into every rank exiting. A run stopped by SIGINT or SIGTERM
                        // (exit 128 + 2 or + 15) stopped on every rank at the same step (the stop request is summed), so
                        // it finalises as a finished one does.
                        if (failed || Environment.ExitCode is not (0 or 130 or 143)) MpiApi.MPI_Abort(MpiHandles.CommWorld, Environment.ExitCode != 0 ? Environment.ExitCode : 1);
                        else MpiApi.MPI_Finalize();
                    };
                }
                MpiError.Check(MpiApi.MPI_Comm_set_errhandler(MpiHandles.CommWorld, MpiHandles.ErrorsReturn), "MPI_Comm_set_errhandler");
                initialised = true;
            }
        }
        return new MpiCommunicator(MpiHandles.CommWorld, owned: false);
    }

    // MPI counts are C ints: longer buffers go in pieces (all ranks cut them the same way).
    const int MaxCount = 1 << 30;

    public void AllReduceSum(Slice<float> data) => StartAllReduceSum(data).Wait();

    public IPendingCollective StartAllReduceSum(Slice<float> data)
    {
        var requests = new List<nint>();
        for (long at = 0; at < data.Length; at += MaxCount)
        {
            int count = (int)Math.Min(MaxCount, data.Length - at);
            nint request;
            MpiError.Check(MpiApi.MPI_Iallreduce(MpiApi.InPlace, data.Pointer + at, count, MpiHandles.Float, MpiHandles.Sum, comm, &request), $"MPI_Iallreduce({count} floats)");
            requests.Add(request);
        }
        return new PendingRequests(this, requests, $"all-reduce of {data.Length} floats");
    }

    sealed class PendingRequests(MpiCommunicator owner, List<nint> requests, string what) : IPendingCollective
    {
        public void Wait()
        {
            foreach (var r in requests) owner.Wait(r, what);
            requests.Clear();
        }
    }

    public void AllReduceSum(Span<double> values)
    {
        if (values.IsEmpty) return;
        fixed (double* p = values)
        {
            nint request;
            MpiError.Check(MpiApi.MPI_Iallreduce(MpiApi.InPlace, p, values.Length, MpiHandles.Double, MpiHandles.Sum, comm, &request), $"MPI_Iallreduce({values.Length} doubles)");
            Wait(request, $"all-reduce of {values.Length} numbers");
        }
    }

    public void ReduceScatterSum(Slice<float> send, Slice<float> receive) => StartReduceScatterSum(send, receive).Wait();

    public IPendingCollective StartReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        if (send.Length != (long)WorldSize * receive.Length)
            throw new ArgumentException($"reduce-scatter: send holds {send.Length} floats, not {WorldSize} × {receive.Length}");
        if (receive.Length > MaxCount) throw new EngineException($"reduce-scatter block of {receive.Length} floats is over MPI's limit of {MaxCount}; use more ranks or smaller units");
        nint request;
        MpiError.Check(MpiApi.MPI_Ireduce_scatter_block(send.Pointer, receive.Pointer, (int)receive.Length, MpiHandles.Float, MpiHandles.Sum, comm, &request), $"MPI_Ireduce_scatter_block({receive.Length} floats)");
        return new PendingRequests(this, [request], $"reduce-scatter of {receive.Length} floats per rank");
    }

    public void AllGather(Slice<float> send, Slice<float> receive) => StartAllGather(send, receive).Wait();

    public IPendingCollective StartAllGather(Slice<float> send, Slice<float> receive)
    {
        if (receive.Length != (long)WorldSize * send.Length)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} floats, not {WorldSize} × {send.Length}");
        HalfStorage.RequireSameStorage(send, receive);
        // 16-bit storage goes as bytes (the bits are moved, not read): two per element, so the limit is on bytes.
        long count = send.IsNative ? send.Length : send.Bytes;
        if (count > MaxCount) throw new EngineException($"all-gather block of {send.Length} {(send.IsNative ? "floats" : send.Storage + " values")} is over MPI's limit of {MaxCount} {(send.IsNative ? "elements" : "bytes")}; use more ranks or smaller units");
        nint request;
        if (send.IsNative)
            MpiError.Check(MpiApi.MPI_Iallgather(send.Pointer, (int)count, MpiHandles.Float, receive.Pointer, (int)count, MpiHandles.Float, comm, &request), $"MPI_Iallgather({send.Length} floats)");
        else
            MpiError.Check(MpiApi.MPI_Iallgather((void*)send.Address, (int)count, MpiHandles.Byte, (void*)receive.Address, (int)count, MpiHandles.Byte, comm, &request), $"MPI_Iallgather({send.Length} {send.Storage} values)");
        return new PendingRequests(this, [request], $"all-gather of {send.Length} {(send.IsNative ? "floats" : send.Storage + " values")} per rank");
    }

    public void Broadcast(Span<byte> data, int root)
    {
        if (data.IsEmpty) return;
        fixed (byte* p = data)
        {
            nint request;
            MpiError.Check(MpiApi.MPI_Ibcast(p, data.Length, MpiHandles.Byte, root, comm, &request), $"MPI_Ibcast({data.Length} bytes from rank {root})");
            Wait(request, $"broadcast of {data.Length} bytes from rank {root}");
        }
    }

    public void Barrier()
    {
        nint request;
        MpiError.Check(MpiApi.MPI_Ibarrier(comm, &request), "MPI_Ibarrier");
        Wait(request, "barrier");
    }

    public ICommunicator Split(int color, int key)
    {
        nint sub;
        MpiError.Check(MpiApi.MPI_Comm_split(comm, color, key, &sub), $"MPI_Comm_split(color {color})");
        return new MpiCommunicator(sub, owned: true) { Deadline = Deadline };
    }

    public void Dispose()
    {
        if (!owned) return;
        nint c = comm;
        MpiApi.MPI_Comm_free(&c);
    }
}
