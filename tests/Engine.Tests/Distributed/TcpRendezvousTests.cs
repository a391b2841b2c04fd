using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Engine.Backends;
using Engine.Backends.Cpu;
using Engine.Precision;
using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>
/// The TCP rendezvous of torchrun-style launches, with every rank an in-process task on 127.0.0.1: the payload
/// reaches every rank; a launch that is incomplete or inconsistent fails on every rank with an error naming the
/// address, port and missing ranks, within the (test-shortened) timeout instead of hanging.
/// </summary>
public class TcpRendezvousTests
{
    const string Loopback = "127.0.0.1";
    static readonly TimeSpan Short = TimeSpan.FromSeconds(2);
    /// <summary>Beyond this a test calls it a hang: far above every timeout used here.</summary>
    static readonly TimeSpan Hang = TimeSpan.FromSeconds(60);

    /// <summary>A port nobody listens on now (the system picks it when asked for port 0).</summary>
    static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    static Task<byte[]> Rank(int rank, int worldSize, int port, byte[] payload, TimeSpan? timeout = null) =>
        Task.Run(() => new TcpRendezvous(Loopback, port, rank, worldSize) { Timeout = timeout ?? TimeSpan.FromSeconds(20) }
            .Share(() => rank == 0 ? payload : throw new InvalidOperationException($"rank {rank} was asked for the payload")));

    static async Task<string> Failure(Task<byte[]> rank) =>
        (await Assert.ThrowsAsync<EngineException>(() => rank.WaitAsync(Hang))).Message;

    [Fact]
    public async Task Four_ranks_all_receive_rank_0s_payload_even_when_rank_0_starts_last()
    {
        int port = FreePort();
        var id = Enumerable.Range(0, 128).Select(i => (byte)(i * 7 + 3)).ToArray();
        var peers = Enumerable.Range(1, 3).Select(r => Rank(r, 4, port, id)).ToList();
        await Task.Delay(500); // the peers are already retrying against a closed port
        var master = Rank(0, 4, port, id);
        var received = await Task.WhenAll(peers.Prepend(master)).WaitAsync(Hang);
        Assert.All(received, bytes => Assert.Equal(id, bytes));
    }

    [Fact]
    public async Task A_stranger_on_the_port_is_ignored()
    {
        int port = FreePort();
        var id = new byte[] { 1, 2, 3 };
        var master = Rank(0, 2, port, id);
        await Task.Delay(300);
        using (var stranger = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await stranger.ConnectAsync(Loopback, port);
            await stranger.SendAsync(new byte[] { (byte)'G', (byte)'E', (byte)'T', (byte)' ', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 });
        }
        var peer = Rank(1, 2, port, id);
        Assert.Equal(id, await peer.WaitAsync(Hang));
        Assert.Equal(id, await master.WaitAsync(Hang));
    }

    [Fact]
    public async Task A_peer_whose_rank_0_never_comes_fails_within_the_timeout_naming_address_and_port()
    {
        int port = FreePort();
        var clock = Stopwatch.StartNew();
        string message = await Failure(Rank(2, 4, port, [], Short));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Contains($"rank 2 of 4: no TCP rendezvous with rank 0 at {Loopback}:{port} within 2 s", message);
        Assert.Contains("ConnectionRefused", message);
        Assert.Contains("ENGINE_COMM_TIMEOUT_S", message);
    }

    [Fact]
    public async Task Rank_0_whose_peers_never_all_arrive_fails_naming_how_many_arrived_and_tells_those_that_did()
    {
        int port = FreePort();
        var clock = Stopwatch.StartNew();
        var master = Rank(0, 4, port, [9], Short);
        var peer = Rank(1, 4, port, [], TimeSpan.FromSeconds(30)); // would wait far longer: rank 0 tells it to stop
        string masterMessage = await Failure(master);
        string peerMessage = await Failure(peer);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Contains($"rank 0 of 4: TCP rendezvous on port {port} (MASTER_ADDR={Loopback}) incomplete after 2 s: 2 of 4 ranks arrived, missing rank(s) 2, 3", masterMessage);
        Assert.Contains($"rank 1 of 4: rank 0 at {Loopback}:{port} ended the rendezvous", peerMessage);
        Assert.Contains("missing rank(s) 2, 3", peerMessage);
    }

    [Fact]
    public async Task A_rank_launched_with_another_world_size_is_refused_on_both_sides()
    {
        int port = FreePort();
        var master = Rank(0, 3, port, [1]);
        var stray = Rank(1, 4, port, []);
        string masterMessage = await Failure(master);
        string strayMessage = await Failure(stray);
        Assert.Contains("rank 1 was launched with WORLD_SIZE=4 but rank 0 with WORLD_SIZE=3", masterMessage);
        Assert.Contains("rank 1 was launched with WORLD_SIZE=4 but rank 0 with WORLD_SIZE=3", strayMessage);
    }

    [Fact]
    public async Task Two_processes_with_the_same_rank_are_refused()
    {
        int port = FreePort();
        var master = Rank(0, 3, port, [1]);
        var first = Rank(1, 3, port, []);
        var second = Rank(1, 3, port, []);
        string masterMessage = await Failure(master);
        Assert.Contains("two processes say RANK=1", masterMessage);
        Assert.Contains("two processes say RANK=1", await Failure(first));
        Assert.Contains("two processes say RANK=1", await Failure(second));
    }

    [Fact]
    public async Task Rank_0_refuses_a_port_already_in_use()
    {
        using var holder = TcpListener.Create(0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;
        string message = await Failure(Rank(0, 2, port, [1], Short));
        Assert.Contains($"rank 0 of 2: cannot listen on MASTER_PORT={port} for the TCP rendezvous: the port is already in use", message);
    }

    [Fact]
    public void A_launch_without_master_address_or_port_names_them()
    {
        var launch = new LaunchEnvironment(1, 4, 1, "torchrun", MasterAddress: null, MasterPort: null);
        string message = Assert.Throws<EngineException>(() => TcpRendezvous.ForLaunch(launch)).Message;
        Assert.Contains("without MASTER_ADDR and MASTER_PORT", message);
        message = Assert.Throws<EngineException>(() => TcpRendezvous.ForLaunch(launch with { MasterAddress = "node0" })).Message;
        Assert.Contains("without MASTER_PORT", message);
        message = Assert.Throws<EngineException>(() => TcpRendezvous.ForLaunch(launch with { MasterAddress = "node0", MasterPort = 70000 })).Message;
        Assert.Contains("MASTER_PORT=70000 is not a TCP port", message);
        var ok = TcpRendezvous.ForLaunch(launch with { MasterAddress = "node0", MasterPort = 29500 });
        Assert.Equal(("node0", 29500, 1, 4), (ok.Address, ok.Port, ok.Rank, ok.WorldSize));
    }

    [Fact]
    public void Torchrun_style_CPU_ranks_are_told_to_launch_with_mpirun()
    {
        using var backends = new BackendStack(new CpuBackend(), gpu: null, PrecisionMode.Fp32);
        var launch = new LaunchEnvironment(1, 4, 1, "torchrun", "127.0.0.1", 29500);
        string message = Assert.Throws<EngineException>(() => CommunicatorFactory.Create(backends, launch)).Message;
        Assert.Contains("CPU ranks join through Open MPI", message);
        Assert.Contains("mpirun -np 4 dotnet trainer.dll", message);
    }
}
