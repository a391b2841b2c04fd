using Engine.Layers;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// DDP's gradient all-reduce, started bucket by bucket while the last micro-step's backward pass is still running.
/// A bucket may start once no gradient in it will be written again. Which request is a bucket's last is learned on the
/// first reduced step (everything is reduced after backward then, as PyTorch DDP does on its first iteration) from
/// the order layers ask for gradients; on later steps, at each point between blocks where everything asked for so far
/// has been written (<see cref="IGradientObserver.OnBackwardProgress"/>), every bucket whose last request has passed
/// starts. Every rank runs the same model on the same shapes, so all of them start the same buckets in the same
/// order. A gradient asked for after its bucket started (the pattern changed) is an error, never a silent wrong sum.
/// </summary>
public sealed class OverlappedAllReduce : IGradientObserver
{
    readonly ICommunicator comm;
    readonly IReadOnlyList<(long Start, long Count)> buckets;
    readonly List<IPendingCollective> pending = new();
    int[]? lastRequest;
    int[] requestedAt;
    bool[] started;
    bool active;
    int requests;
    Slice<float> gradients;

    public OverlappedAllReduce(ICommunicator comm, IReadOnlyList<(long Start, long Count)> buckets)
    {
        this.comm = comm; this.buckets = buckets;
        requestedAt = new int[buckets.Count];
        started = new bool[buckets.Count];
    }

    /// <summary>Buckets of the last reduced step that started before the backward pass ended (for tests and profiles).</summary>
    public int StartedDuringBackward { get; private set; }

    /// <summary>The backward pass whose gradients are reduced begins (the last micro-step of an optimizer step).</summary>
    public void Begin(Slice<float> gradients)
    {
        this.gradients = gradients;
        Array.Fill(requestedAt, -1);
        Array.Clear(started);
        pending.Clear();
        requests = 0;
        StartedDuringBackward = 0;
        active = true;
    }

    public void OnGradient(ParameterInfo p)
    {
        if (!active) return;
        long end = p.Offset + p.Count;
        for (int b = 0; b < buckets.Count; b++)
        {
            var (start, count) = buckets[b];
            if (p.Offset >= start + count || end <= start) continue;
            if (started[b])
                throw new InvalidOperationException($"gradient {p.Name} was asked for after its all-reduce bucket started: the backward pass touched it later than on the first step");
            requestedAt[b] = requests;
        }
        requests++;
    }

    public void OnBackwardProgress()
    {
        if (!active || lastRequest == null) return;
        for (int b = 0; b < buckets.Count; b++)
            if (!started[b] && lastRequest[b] < requests)
            {
                Start(b);
                StartedDuringBackward++;
            }
    }

    /// <summary>Backward is done: starts what is left, waits for everything (in start order), learns on the first step.</summary>
    public void Finish()
    {
        if (!active) return;
        for (int b = 0; b < buckets.Count; b++)
            if (!started[b]) Start(b);
        foreach (var p in pending) p.Wait();
        pending.Clear();
        lastRequest ??= (int[])requestedAt.Clone();
        active = false;
    }

    void Start(int b)
    {
        started[b] = true;
        var (start, count) = buckets[b];
        pending.Add(comm.StartAllReduceSum(gradients.Sub(start, count)));
    }
}
