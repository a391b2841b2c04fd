using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Engine.Distributed;

/// <summary>The side of every rank but 0: reach rank 0 (which may start later), say who we are, wait for the payload.</summary>
public sealed partial class TcpRendezvous
{
    static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

    byte[] JoinAsPeer()
    {
        var deadline = Deadline.After(Timeout);
        using var socket = Connect(deadline);
        Span<byte> hello = stackalloc byte[HelloBytes];
        BinaryPrimitives.WriteInt32LittleEndian(hello, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(hello[4..], ProtocolVersion);
        BinaryPrimitives.WriteInt32LittleEndian(hello[8..], Rank);
        BinaryPrimitives.WriteInt32LittleEndian(hello[12..], WorldSize);
        try
        {
            SendAll(socket, hello, deadline);
            Span<byte> header = stackalloc byte[8];
            if (!ReceiveExactly(socket, header, deadline)) throw NoAnswer();
            int kind = BinaryPrimitives.ReadInt32LittleEndian(header), length = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            if (kind is not (Accepted or Refused) || length is < 0 or > MaxAnswerBytes)
                throw new EngineException($"{Who}: the process at {Address}:{Port} does not speak this engine's rendezvous (answer kind {kind}, length {length}): MASTER_PORT is taken by another program; choose a free port for every rank");
            var body = new byte[length];
            if (!ReceiveExactly(socket, body, deadline)) throw NoAnswer();
            if (kind == Refused)
                throw new EngineException($"{Who}: rank 0 at {Address}:{Port} ended the rendezvous: {Encoding.UTF8.GetString(body)}");
            return body;
        }
        catch (Exception e) when (e is SocketException or EndOfStreamException)
        {
            throw new EngineException($"{Who}: rank 0 at {Address}:{Port} dropped the rendezvous connection ({(e as SocketException)?.SocketErrorCode.ToString() ?? e.Message}): it failed or was stopped; see rank 0's error", e);
        }
    }

    EngineException NoAnswer() => new(
        $"{Who}: connected to rank 0 at {Address}:{Port} but got no answer within {Seconds}: rank 0 is still waiting for other ranks (its own error lists the missing ones), "
        + $"or another program holds that port; start every rank with WORLD_SIZE={WorldSize} MASTER_ADDR={Address} MASTER_PORT={Port}, or set {CommunicationTimeout.Variable} to wait longer");

    /// <summary>Connects to rank 0, retrying while it is not listening yet (or its name does not resolve yet).</summary>
    Socket Connect(Deadline deadline)
    {
        string lastError = "no attempt";
        // A refusal says more than the timeout of an attempt begun in the deadline's last moments: keep it.
        string? lastRefusal = null;
        while (!deadline.Passed)
        {
            // Dual mode where the system has IPv6, so MASTER_ADDR may name an IPv4 or an IPv6 address.
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromMilliseconds(deadline.Milliseconds()));
                socket.ConnectAsync(Address, Port, attempt.Token).AsTask().GetAwaiter().GetResult();
                return socket;
            }
            catch (SocketException e) { lastError = lastRefusal = $"{e.SocketErrorCode}: {e.Message}"; }
            catch (OperationCanceledException) { lastError = lastRefusal is null ? "the connection attempt timed out" : $"{lastRefusal}, then an attempt timed out"; }
            socket.Dispose();
            if (deadline.Remaining > RetryPause) Thread.Sleep(RetryPause);
            else break;
        }
        throw new EngineException(
            $"{Who}: no TCP rendezvous with rank 0 at {Address}:{Port} within {Seconds} (last attempt: {lastError}): "
            + $"start rank 0 with the same MASTER_ADDR and MASTER_PORT, check that {Address} names rank 0's node and that port {Port} is reachable from here (firewall), "
            + $"or set {CommunicationTimeout.Variable} to wait longer");
    }
}
