using System.Net;
using System.Net.Sockets;
using Engine.Backends.Cuda;
using Engine.Distributed;
using Engine.Tests.Support;

namespace Engine.Tests.Distributed;

/// <summary>
/// NCCL joined through the TCP rendezvous (no MPI in the process), on one GPU as a world of one: the float
/// collectives, and the host scalars, bytes, barrier and split that NCCL carries itself on this path. Skipped with
/// "no CUDA device" where there is none; several GPUs are checked with `comm-check --device cuda` (docs/distributed.md).
/// </summary>
[Trait("Category", "GPU")]
public class NcclWithoutMpiTests
{
    [Fact]
    public void One_rank_joined_over_TCP_passes_every_collective()
    {
        Gpu.Require();
        using var backend = new CudaBackend();
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var comm = NcclCommunicator.Create(backend, new TcpRendezvous("127.0.0.1", port, rank: 0, worldSize: 1) { Timeout = TimeSpan.FromSeconds(30) });
        Assert.Equal((0, 1, "nccl"), (comm.Rank, comm.WorldSize, comm.Transport));

        var data = backend.Allocate<float>(5, "test");
        backend.CopyIn<float>([1f, -2f, 3.5f, 0f, 1e-3f], data);
        comm.AllReduceSum(data);
        var back = new float[5];
        backend.CopyOut(data, back);
        Assert.Equal([1f, -2f, 3.5f, 0f, 1e-3f], back);
        backend.Free(data);

        Span<double> scalars = [2.5, -1];
        comm.AllReduceSum(scalars);
        Assert.Equal([2.5, -1], scalars.ToArray());
        using (var group = comm.Split(color: 0, key: 0))
            Assert.Equal((0, 1), (group.Rank, group.WorldSize));

        Assert.Empty(CommunicatorSelfTest.Run(comm, backend, elements: 1000));
    }
}
