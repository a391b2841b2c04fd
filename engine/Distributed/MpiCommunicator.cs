using Engine.Interop;
using Engine.Interop.Mpi;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Collectives between CPU processes over Open MPI (launched by mpirun). Tensors must be host memory (the CPU
/// backend's). MPI is initialised once per process, with errors returned rather than aborting, so a failure
/// becomes an exception naming the call; it is finalised at process exit.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    readonly nint comm;
    readonly bool owned;
    public int Rank { get; }
    public int WorldSize { get; }
    public string Transport => "mpi";

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
                        if (MpiApi.MPI_Finalized(&done) == 0 && done == 0) MpiApi.MPI_Finalize();
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

    public void AllReduceSum(Slice<float> data)
    {
        for (long at = 0; at < data.Length; at += MaxCount)
        {
            int count = (int)Math.Min(MaxCount, data.Length - at);
            MpiError.Check(MpiApi.MPI_Allreduce(MpiApi.InPlace, data.Pointer + at, count, MpiHandles.Float, MpiHandles.Sum, comm), $"MPI_Allreduce({count} floats)");
        }
    }

    public void AllReduceSum(Span<double> values)
    {
        if (values.IsEmpty) return;
        fixed (double* p = values)
            MpiError.Check(MpiApi.MPI_Allreduce(MpiApi.InPlace, p, values.Length, MpiHandles.Double, MpiHandles.Sum, comm), $"MPI_Allreduce({values.Length} doubles)");
    }

    public void ReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        if (send.Length != (long)WorldSize * receive.Length)
            throw new ArgumentException($"reduce-scatter: send holds {send.Length} floats, not {WorldSize} × {receive.Length}");
        if (receive.Length > MaxCount) throw new EngineException($"reduce-scatter block of {receive.Length} floats is over MPI's limit of {MaxCount}; use more ranks or smaller units");
        MpiError.Check(MpiApi.MPI_Reduce_scatter_block(send.Pointer, receive.Pointer, (int)receive.Length, MpiHandles.Float, MpiHandles.Sum, comm), $"MPI_Reduce_scatter_block({receive.Length} floats)");
    }

    public void AllGather(Slice<float> send, Slice<float> receive)
    {
        if (receive.Length != (long)WorldSize * send.Length)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} floats, not {WorldSize} × {send.Length}");
        if (send.Length > MaxCount) throw new EngineException($"all-gather block of {send.Length} floats is over MPI's limit of {MaxCount}; use more ranks or smaller units");
        MpiError.Check(MpiApi.MPI_Allgather(send.Pointer, (int)send.Length, MpiHandles.Float, receive.Pointer, (int)send.Length, MpiHandles.Float, comm), $"MPI_Allgather({send.Length} floats)");
    }

    public void Broadcast(Span<byte> data, int root)
    {
        if (data.IsEmpty) return;
        fixed (byte* p = data) MpiError.Check(MpiApi.MPI_Bcast(p, data.Length, MpiHandles.Byte, root, comm), $"MPI_Bcast({data.Length} bytes from rank {root})");
    }

    public void Barrier() => MpiError.Check(MpiApi.MPI_Barrier(comm), "MPI_Barrier");

    public ICommunicator Split(int color, int key)
    {
        nint sub;
        MpiError.Check(MpiApi.MPI_Comm_split(comm, color, key, &sub), $"MPI_Comm_split(color {color})");
        return new MpiCommunicator(sub, owned: true);
    }

    public void Dispose()
    {
        if (!owned) return;
        nint c = comm;
        MpiApi.MPI_Comm_free(&c);
    }
}
