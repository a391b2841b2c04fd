using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Engine.Distributed;

/// <summary>Rank 0's side of the rendezvous: listen, collect and check every other rank, then answer them all.</summary>
public sealed partial class TcpRendezvous
{
    /// <summary>How long a fresh connection may take to say hello before rank 0 drops it as a stranger (a real rank
    /// sends its 16 bytes as soon as it connects).</summary>
    static readonly TimeSpan HelloWait = TimeSpan.FromSeconds(30);

    void ServeAsMaster(byte[] payload)
    {
        var deadline = Deadline.After(Timeout);
        using var listener = Listen();
        var peers = new SortedDictionary<int, Socket>();
        try
        {
            while (peers.Count < WorldSize - 1)
            {
                var socket = AcceptBefore(listener, deadline) ?? throw Fail(peers, Incomplete(peers));
                var hello = ReadHello(socket, deadline);
                if (hello is null)
                {
                    socket.Dispose(); // a stranger, or a connection that said nothing: keep waiting for the real ranks
                    continue;
                }
                var (rank, worldSize) = hello.Value;
                string? refusal = Check(rank, worldSize, peers);
                if (refusal is not null)
                {
                    peers[-1 - peers.Count] = socket; // tell the offender too (under a key no rank uses)
                    throw Fail(peers, $"{Who}: TCP rendezvous on port {Port} refused: {refusal}");
                }
                peers[rank] = socket;
            }
            var answer = Answer(Accepted, payload);
            foreach (var (rank, socket) in peers)
            {
                try { SendAll(socket, answer, deadline); }
                catch (SocketException e)
                {
                    throw new EngineException($"{Who}: TCP rendezvous on port {Port}: rank {rank} arrived but could not be answered ({e.SocketErrorCode}): it died or its network dropped; restart the launch", e);
                }
            }
            return;
        }
        finally
        {
            foreach (var socket in peers.Values) socket.Dispose();
        }
    }

    TcpListener Listen()
    {
        // Every interface, IPv4 and IPv6 (dual mode where the system has IPv6).
        var listener = TcpListener.Create(Port);
        try
        {
            listener.Start(WorldSize);
            return listener;
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new EngineException(e.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? $"{Who}: cannot listen on MASTER_PORT={Port} for the TCP rendezvous: the port is already in use (another job, or a rank 0 left from an earlier launch): choose a free MASTER_PORT, the same on every rank"
                : $"{Who}: cannot listen on MASTER_PORT={Port} for the TCP rendezvous ({e.SocketErrorCode}: {e.Message}): choose another MASTER_PORT (above 1023 unless root), the same on every rank", e);
        }
    }

    static Socket? AcceptBefore(TcpListener listener, Deadline deadline)
    {
        while (!deadline.Passed)
        {
            // Poll in slices: a single poll's microsecond count overflows past 35 minutes.
            if (listener.Server.Poll(TimeSpan.FromMilliseconds(deadline.Milliseconds(TimeSpan.FromSeconds(1))), SelectMode.SelectRead))
                return listener.AcceptSocket();
        }
        return null;
    }

    /// <summary>(rank, world size) from a peer's hello; null for a connection that is not a rank of ours.</summary>
    static (int Rank, int WorldSize)? ReadHello(Socket socket, Deadline deadline)
    {
        Span<byte> hello = stackalloc byte[HelloBytes];
        try
        {
            var helloDeadline = Deadline.After(HelloWait < deadline.Remaining ? HelloWait : deadline.Remaining);
            if (!ReceiveExactly(socket, hello, helloDeadline)) return null;
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException) { return null; }
        if (BinaryPrimitives.ReadInt32LittleEndian(hello) != Magic || BinaryPrimitives.ReadInt32LittleEndian(hello[4..]) != ProtocolVersion) return null;
        return (BinaryPrimitives.ReadInt32LittleEndian(hello[8..]), BinaryPrimitives.ReadInt32LittleEndian(hello[12..]));
    }

    string? Check(int rank, int worldSize, SortedDictionary<int, Socket> peers)
    {
        if (worldSize != WorldSize)
            return $"rank {rank} was launched with WORLD_SIZE={worldSize} but rank 0 with WORLD_SIZE={WorldSize}: launch every rank with the same WORLD_SIZE";
        if (rank == 0)
            return "a second process says RANK=0: give each process its own RANK (0 to WORLD_SIZE-1)";
        if (rank < 0 || rank >= WorldSize)
            return $"a process says RANK={rank}, outside a world of {WorldSize}: give each process its own RANK (0 to WORLD_SIZE-1)";
        if (peers.ContainsKey(rank))
            return $"two processes say RANK={rank}: give each process its own RANK (0 to WORLD_SIZE-1)";
        return null;
    }

    string Incomplete(SortedDictionary<int, Socket> peers)
    {
        var missing = Enumerable.Range(1, WorldSize - 1).Where(r => !peers.ContainsKey(r)).ToList();
        string missingText = string.Join(", ", missing.Take(16)) + (missing.Count > 16 ? $", … ({missing.Count} in all)" : "");
        return $"{Who}: TCP rendezvous on port {Port} (MASTER_ADDR={Address}) incomplete after {Seconds}: {peers.Count + 1} of {WorldSize} ranks arrived, missing rank(s) {missingText}. "
            + $"Start every rank with WORLD_SIZE={WorldSize} MASTER_ADDR={Address} MASTER_PORT={Port}, check that port {Port} on this node is reachable from the others (firewall), "
            + $"or set {CommunicationTimeout.Variable} to wait longer";
    }

    /// <summary>Tells every rank that arrived why the rendezvous failed (so they stop now rather than at their own
    /// deadline), then returns the error for rank 0 to raise.</summary>
    static EngineException Fail(SortedDictionary<int, Socket> peers, string reason)
    {
        var answer = Answer(Refused, Encoding.UTF8.GetBytes(reason));
        var shortDeadline = Deadline.After(TimeSpan.FromSeconds(5));
        foreach (var socket in peers.Values)
        {
            try { SendAll(socket, answer, shortDeadline); }
            catch (SocketException) { } // best effort: that rank still fails at its own deadline
        }
        return new EngineException(reason);
    }
}
