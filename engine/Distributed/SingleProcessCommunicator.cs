using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>World size 1: every collective leaves the data as it is (a reduce-scatter or all-gather copies).</summary>
public sealed class SingleProcessCommunicator(IBackend backend) : ICommunicator
{
    public int Rank => 0;
    public int WorldSize => 1;
    public string Transport => "single";
    /// <summary>Never waited on (nothing here waits for another rank); kept so the loop reports steps the same way everywhere.</summary>
    public CollectiveDeadline Deadline { get; } = new();

    public void AllReduceSum(Slice<float> data) { }
    public void AllReduceSum(Span<double> values) { }
    public IPendingCollective StartAllReduceSum(Slice<float> data) => CompletedCollective.Instance;

    public void ReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        CheckSizes(send.Length, receive.Length, "reduce-scatter");
        if (send.Address != receive.Address) backend.Copy(send, receive);
    }

    public void AllGather(Slice<float> send, Slice<float> receive)
    {
        CheckSizes(receive.Length, send.Length, "all-gather");
        if (send.Address != receive.Address) backend.Copy(send, receive);
    }

    public IPendingCollective StartReduceScatterSum(Slice<float> send, Slice<float> receive)
    {
        ReduceScatterSum(send, receive);
        return CompletedCollective.Instance;
    }

    public IPendingCollective StartAllGather(Slice<float> send, Slice<float> receive)
    {
        AllGather(send, receive);
        return CompletedCollective.Instance;
    }

    public void Broadcast(Span<byte> data, int root)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), $"broadcast root {root} in a world of 1");
    }

    public void Barrier() { }
    public ICommunicator Split(int color, int key) => new SingleProcessCommunicator(backend);
    public void Dispose() { }

    static void CheckSizes(long whole, long part, string what)
    {
        if (whole != part) throw new ArgumentException($"{what} in a world of 1: the full buffer ({whole}) must equal the block ({part})");
    }
}
