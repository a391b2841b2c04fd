using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// The collectives DDP and FSDP are written against, once, for every transport: MPI between CPU processes, NCCL
/// between GPUs, and a single process (world size 1, every collective the identity). Tensors are slices of the
/// backend's memory that the transport can reach (host memory for MPI, device memory for NCCL). Every rank of the
/// communicator must make the same calls in the same order.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>"single", "mpi" or "nccl", for messages and metrics.</summary>
    string Transport { get; }

    /// <summary>How long a wait on the other ranks may last: learnt from the run's steps, which the training loop
    /// reports here (<see cref="CollectiveDeadline.StepCompleted"/>), unless ENGINE_COMM_TIMEOUT_S fixes it.</summary>
    CollectiveDeadline Deadline { get; }

    /// <summary>data ← Σ over ranks of data, in place.</summary>
    void AllReduceSum(Slice<float> data);

    /// <summary>
    /// Starts data ← Σ over ranks of data and returns at once, so the caller can compute while it runs (DDP overlaps
    /// the gradient all-reduce with the rest of the backward pass). The data must not be touched until
    /// <see cref="IPendingCollective.Wait"/>; started collectives must be waited for in the order they were started.
    /// </summary>
    IPendingCollective StartAllReduceSum(Slice<float> data);

    /// <summary>Host scalars (loss sums, token counts): values ← Σ over ranks.</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>receive ← this rank's 1/WorldSize block of Σ over ranks of send (send.Length = WorldSize · receive.Length).</summary>
    void ReduceScatterSum(Slice<float> send, Slice<float> receive);

    /// <summary>receive ← every rank's send, concatenated in rank order (receive.Length = WorldSize · send.Length). Moves
    /// the elements as they are stored: fp32, or 16-bit storage (FSDP gathers the 16-bit copy of its shards under mixed
    /// precision); both buffers in the same storage.</summary>
    void AllGather(Slice<float> send, Slice<float> receive);

    /// <summary>
    /// <see cref="ReduceScatterSum"/> and <see cref="AllGather"/> started and returned at once, as
    /// <see cref="StartAllReduceSum"/> (FSDP gathers the next unit and reduce-scatters the last one while a unit
    /// computes). Neither buffer may be touched until Wait; started collectives are waited for in start order.
    /// </summary>
    IPendingCollective StartReduceScatterSum(Slice<float> send, Slice<float> receive);
    IPendingCollective StartAllGather(Slice<float> send, Slice<float> receive);

    /// <summary>data ← root's data, on every rank.</summary>
    void Broadcast(Span<byte> data, int root);

    void Barrier();

    /// <summary>Ranks with the same color form a new communicator, ordered by key (then by rank).</summary>
    ICommunicator Split(int color, int key);
}

/// <summary>A collective in flight (<see cref="ICommunicator.StartAllReduceSum"/> and the other Start calls).</summary>
public interface IPendingCollective
{
    /// <summary>Returns when the result may be read: on the host (MPI), or ordered before later work on the compute
    /// stream (NCCL). Bounded by the communicator's timeout.</summary>
    void Wait();
}

/// <summary>A collective that finished when it was started (world size 1).</summary>
public sealed class CompletedCollective : IPendingCollective
{
    public static readonly CompletedCollective Instance = new();
    public void Wait() { }
}
