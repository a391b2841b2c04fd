namespace Engine.Distributed;

/// <summary>
/// Bounds collectives whose completion the host cannot wait for with a deadline of its own: NCCL's are queued on GPU
/// streams, and the host later blocks in a stream synchronisation that would wait forever for a dead peer. A thread
/// polls each watched collective, oldest first; one still running after the deadline (<see cref="CollectiveDeadline"/>:
/// learnt from the run's steps, or fixed by ENGINE_COMM_TIMEOUT_S), or an error the
/// transport reports asynchronously, ends the process through <c>onFailure</c> with a message naming the collective
/// and the rank, so the job stops within a bounded time (as MPI's own waits do) instead of hanging.
/// </summary>
public sealed class CollectiveWatchdog : IDisposable
{
    readonly string who;
    readonly CollectiveDeadline deadline;
    readonly string missing;
    readonly Action<string> onFailure;
    readonly Func<string?> asyncError;
    readonly Queue<(string What, Func<bool> IsDone, Action Release, long Started)> pending = new();
    readonly Thread thread;
    readonly ManualResetEventSlim stopping = new();
    readonly TimeSpan poll;

    /// <param name="who">The rank, for messages ("rank 3 of 8").</param>
    /// <param name="onFailure">Called once, on the watchdog's thread, with the message; it is expected to end the
    /// process (abort the communicator, exit non-zero).</param>
    /// <param name="onThreadStart">Runs first on the watchdog's thread (making the GPU context current there).</param>
    /// <param name="asyncError">An error the transport has seen on its own (ncclCommGetAsyncError), or null.</param>
    /// <param name="missing">The rank(s) a late collective waits for, for messages (<see cref="CommunicationException.Missing"/>).</param>
    public CollectiveWatchdog(string who, CollectiveDeadline deadline, Action<string> onFailure, Action? onThreadStart = null, Func<string?>? asyncError = null, TimeSpan? poll = null, string missing = "another rank")
    {
        this.who = who; this.deadline = deadline; this.onFailure = onFailure; this.missing = missing;
        this.asyncError = asyncError ?? (() => null);
        this.poll = poll ?? TimeSpan.FromMilliseconds(100);
        thread = new Thread(() => { onThreadStart?.Invoke(); Run(); }) { IsBackground = true, Name = "collective watchdog" };
        thread.Start();
    }

    /// <summary>Watches one started collective: isDone is asked from the watchdog's thread until it says true, then
    /// release runs (freeing the event that marks it).</summary>
    public void Watch(string what, Func<bool> isDone, Action? release = null)
    {
        lock (pending) pending.Enqueue((what, isDone, release ?? (() => { }), Environment.TickCount64));
    }

    /// <summary>Collectives watched and not yet seen to finish.</summary>
    public int Pending { get { lock (pending) return pending.Count; } }

    /// <summary>Whether every watched collective has finished, asked now (not at the next poll).</summary>
    public bool AllDone()
    {
        lock (pending)
            foreach (var p in pending)
            {
                try { if (!p.IsDone()) return false; }
                catch (Exception) { return false; }
            }
        return true;
    }

    void Run()
    {
        while (!stopping.Wait(poll))
        {
            string? failure = asyncError() is { } error ? $"{who}: the communicator reported {error}: another rank failed or the network broke" : null;
            lock (pending)
            {
                // Collectives complete in the order they were queued on one stream; across the two streams the oldest
                // still running is what is late, so looking at the front is enough.
                while (failure == null && pending.TryPeek(out var front))
                {
                    bool done;
                    try { done = front.IsDone(); }
                    catch (Exception e) // a sticky CUDA error: report it with the collective, rather than crash the thread
                    {
                        failure = $"{who}: {front.What} failed: {e.Message}";
                        break;
                    }
                    if (done) { pending.Dequeue().Release(); continue; }
                    if (Environment.TickCount64 - front.Started > deadline.Current.TotalMilliseconds)
                        failure = CommunicationException.TimedOut(who, front.What, deadline, missing).Message;
                    break;
                }
            }
            if (failure != null)
            {
                onFailure(failure);
                return;
            }
        }
    }

    public void Dispose()
    {
        stopping.Set();
        if (thread != Thread.CurrentThread) thread.Join();
        lock (pending) while (pending.TryDequeue(out var p)) p.Release();
        stopping.Dispose();
    }
}
