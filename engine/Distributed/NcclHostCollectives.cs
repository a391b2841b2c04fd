using Engine.Backends.Cuda;
using Engine.Interop.Nccl;

namespace Engine.Distributed;

/// <summary>
/// The host-side operations of a communicator (loss sums and counts, a few bytes, a barrier) carried by NCCL itself,
/// for GPU ranks that joined without MPI and so have no other transport: each goes through a small device buffer on
/// the compute stream and returns when the result is back on the host. They are rare and tiny (a few per step), so
/// the copies cost microseconds; TCP never carries them. Each is handed to the communicator's watchdog (watch: named
/// after the call), since the host then waits for it in a stream synchronisation that has no deadline of its own.
/// </summary>
static unsafe class NcclHostCollectives
{
    public static void AllReduceSum(CudaBackend backend, NcclCommHandle comm, Span<double> values, Action<string> watch)
    {
        if (values.Length == 0) return;
        var buffer = backend.Allocate<double>(values.Length, "NCCL host scalars");
        try
        {
            backend.CopyIn<double>(values, buffer);
            NcclResult.Check(NcclApi.ncclAllReduce((ulong)buffer.Address, (ulong)buffer.Address, (nuint)values.Length, NcclConstants.Float64, NcclConstants.Sum, Comm(comm), Stream(backend)), $"ncclAllReduce({values.Length} host doubles)");
            watch($"all-reduce of {values.Length} host numbers");
            backend.CopyOut(buffer, values); // synchronises the stream
        }
        finally { backend.Free(buffer); }
    }

    public static void Broadcast(CudaBackend backend, NcclCommHandle comm, Span<byte> data, int root, Action<string> watch)
    {
        if (data.Length == 0) return;
        var buffer = backend.Allocate<byte>(data.Length, "NCCL host broadcast");
        try
        {
            backend.CopyIn<byte>(data, buffer);
            NcclResult.Check(NcclApi.ncclBroadcast((ulong)buffer.Address, (ulong)buffer.Address, (nuint)data.Length, NcclConstants.Int8, root, Comm(comm), Stream(backend)), $"ncclBroadcast({data.Length} host bytes from rank {root})");
            watch($"broadcast of {data.Length} bytes from rank {root}");
            backend.CopyOut(buffer, data);
        }
        finally { backend.Free(buffer); }
    }

    /// <summary>A one-element all-reduce, waited for: it cannot finish on any rank before every rank has called it.</summary>
    public static void Barrier(CudaBackend backend, NcclCommHandle comm, Action<string> watch)
    {
        Span<double> token = [0];
        AllReduceSum(backend, comm, token, watch);
    }

    static nint Comm(NcclCommHandle comm) => comm.DangerousGetHandle();
    static nint Stream(CudaBackend backend) => backend.Device.ComputeStream.DangerousGetHandle();
}
