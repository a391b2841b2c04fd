using System.Net.Sockets;

namespace Engine.Distributed;

/// <summary>
/// Joins the ranks of a launch without MPI (torchrun-style: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) by handing
/// one small payload from rank 0 to every other rank over TCP: NCCL's 128-byte unique id. That is all TCP carries;
/// tensors and training numbers travel over NCCL, never over this socket (the project uses existing transports only).
/// Rank 0 listens on MASTER_PORT on every interface (MASTER_ADDR often resolves to a loopback alias on rank 0's own
/// node), waits for the WorldSize − 1 others, checks that they name distinct ranks and the same world size, and only
/// then answers each with the payload, so a launch that disagrees fails on every rank before NCCL starts. The others
/// connect to MASTER_ADDR:MASTER_PORT, retrying while rank 0 is not up yet. Every wait shares one deadline
/// (<see cref="Timeout"/>): a rendezvous that cannot complete ends in an error naming who is missing, never a hang.
/// </summary>
public sealed partial class TcpRendezvous
{
    public string Address { get; }
    public int Port { get; }
    public int Rank { get; }
    public int WorldSize { get; }

    /// <summary>The whole rendezvous must finish within this (ENGINE_COMM_TIMEOUT_S, else 10 minutes; tests shorten it).</summary>
    public TimeSpan Timeout { get; init; } = CommunicationTimeout.FromEnvironment();

    public TcpRendezvous(string address, int port, int rank, int worldSize)
    {
        if (string.IsNullOrWhiteSpace(address)) throw new EngineException("TCP rendezvous: MASTER_ADDR is empty: set it to the host name or address of rank 0's node");
        if (port is < 1 or > 65535) throw new EngineException($"TCP rendezvous: MASTER_PORT={port} is not a TCP port (1-65535): choose a free port, e.g. 29500");
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new EngineException($"TCP rendezvous: rank {rank} is not within a world of {worldSize}; fix RANK and WORLD_SIZE");
        Address = address; Port = port; Rank = rank; WorldSize = worldSize;
    }

    /// <summary>The rendezvous a torchrun-style launch describes; names the variable that is missing.</summary>
    public static TcpRendezvous ForLaunch(LaunchEnvironment launch)
    {
        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(launch.MasterAddress)) missing.Add("MASTER_ADDR");
        if (launch.MasterPort is null) missing.Add("MASTER_PORT");
        if (missing.Count > 0)
            throw new EngineException($"{launch.Launcher} launch (rank {launch.Rank} of {launch.WorldSize}) without {string.Join(" and ", missing)}: "
                + "the ranks meet at rank 0's MASTER_ADDR:MASTER_PORT; set both on every rank (e.g. MASTER_ADDR=node0 MASTER_PORT=29500)");
        return new TcpRendezvous(launch.MasterAddress!, launch.MasterPort!.Value, launch.Rank, launch.WorldSize);
    }

    /// <summary>
    /// Every rank calls this once. On rank 0 <paramref name="makePayload"/> makes the bytes that every rank gets back;
    /// on the others it is not called.
    /// </summary>
    public byte[] Share(Func<byte[]> makePayload)
    {
        if (Rank == 0)
        {
            var payload = makePayload();
            if (WorldSize > 1) ServeAsMaster(payload);
            return payload;
        }
        return JoinAsPeer();
    }

    string Who => $"rank {Rank} of {WorldSize}";
    string Seconds => $"{Timeout.TotalSeconds:0.#} s";

    // ---- wire format ------------------------------------------------------------------------------------------
    // Hello, a peer to rank 0: magic, protocol version, rank, world size (four little-endian int32).
    // Answer, rank 0 to a peer: kind (Accepted: the payload follows; Refused: a UTF-8 reason follows), length, bytes.
    // The magic lets rank 0 ignore a stranger that connects to its port (a port scanner, a health check).

    const int Magic = 0x52474E45; // "ENGR"
    const int ProtocolVersion = 1;
    const int HelloBytes = 16;
    const int Accepted = 0, Refused = 1;
    const int MaxAnswerBytes = 1 << 20;

    /// <summary>A deadline for a series of socket calls: each call gets what remains.</summary>
    readonly record struct Deadline(DateTime End)
    {
        public static Deadline After(TimeSpan span) => new(DateTime.UtcNow + span);
        public TimeSpan Remaining => End - DateTime.UtcNow;
        public bool Passed => Remaining <= TimeSpan.Zero;
        /// <summary>What a socket timeout in milliseconds takes: at least 1 (0 means "forever" to a socket).</summary>
        public int Milliseconds(TimeSpan? cap = null)
        {
            var left = cap is { } c && c < Remaining ? c : Remaining;
            return (int)Math.Clamp(left.TotalMilliseconds, 1, int.MaxValue);
        }
    }

    /// <summary>Reads exactly buffer.Length bytes before the deadline; false when the deadline passed first.</summary>
    static bool ReceiveExactly(Socket socket, Span<byte> buffer, Deadline deadline)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            if (deadline.Passed) return false;
            socket.ReceiveTimeout = deadline.Milliseconds();
            int n;
            try { n = socket.Receive(buffer[read..]); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut) { return false; }
            if (n == 0) throw new EndOfStreamException("the connection closed");
            read += n;
        }
        return true;
    }

    static void SendAll(Socket socket, ReadOnlySpan<byte> data, Deadline deadline)
    {
        socket.SendTimeout = deadline.Milliseconds();
        while (data.Length > 0) data = data[socket.Send(data)..];
    }

    static byte[] Answer(int kind, ReadOnlySpan<byte> body)
    {
        var bytes = new byte[8 + body.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes, kind);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), body.Length);
        body.CopyTo(bytes.AsSpan(8));
        return bytes;
    }
}
