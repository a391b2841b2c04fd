using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>
/// The watchdog that bounds NCCL's stream-queued collectives, driven here by stand-in completion checks (the GPU side
/// only supplies cuEventQuery on a recorded event): a collective that never completes ends the run with a message
/// naming it and the rank soon after the timeout; finished ones are released in order; an error the transport
/// reports on its own ends the run at once.
/// </summary>
public class CollectiveWatchdogTests
{
    [Fact]
    public void A_collective_that_never_completes_fails_the_run_after_the_timeout()
    {
        var failed = new TaskCompletionSource<string>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var watchdog = new CollectiveWatchdog("rank 1 of 4", new CollectiveDeadline(TimeSpan.FromMilliseconds(300)), m => failed.TrySetResult(m), poll: TimeSpan.FromMilliseconds(10));
        int released = 0;
        watchdog.Watch("all-reduce of 8 floats", () => true, () => released++);
        watchdog.Watch("all-gather of 1024 floats per rank", () => false);
        Assert.True(failed.Task.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken), "the watchdog never fired");
        Assert.InRange(clock.Elapsed.TotalMilliseconds, 300, 5000);
        Assert.Equal("rank 1 of 4: all-gather of 1024 floats per rank in set-up or the first step did not complete within 0.3 s (ENGINE_COMM_TIMEOUT_S fixes it): "
            + "another rank did not arrive: stopped, stuck or dead. Set ENGINE_COMM_TIMEOUT_S to wait longer; the run's last checkpoint resumes it", failed.Task.Result);
        Assert.Equal(1, released);
    }

    [Fact]
    public void Collectives_that_finish_are_released_and_nothing_fires()
    {
        int fired = 0, released = 0;
        bool done = false;
        using (var watchdog = new CollectiveWatchdog("rank 0 of 2", new CollectiveDeadline(TimeSpan.FromSeconds(5)), _ => fired++, poll: TimeSpan.FromMilliseconds(5)))
        {
            for (int i = 0; i < 3; i++) watchdog.Watch($"collective {i}", () => Volatile.Read(ref done), () => Interlocked.Increment(ref released));
            Thread.Sleep(50);
            Assert.Equal(3, watchdog.Pending);
            Volatile.Write(ref done, true);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (watchdog.Pending > 0 && DateTime.UtcNow < deadline) Thread.Sleep(5);
            Assert.Equal(0, watchdog.Pending);
            watchdog.Watch("left running at the end", () => false, () => Interlocked.Increment(ref released));
        }
        Assert.Equal(0, fired);
        Assert.Equal(4, released); // disposing releases what is still watched
    }

    [Fact]
    public void An_error_the_transport_reports_fails_the_run_at_once()
    {
        var failed = new TaskCompletionSource<string>();
        using var watchdog = new CollectiveWatchdog("rank 2 of 8", new CollectiveDeadline(TimeSpan.FromMinutes(10)), m => failed.TrySetResult(m), asyncError: () => "ncclRemoteError", poll: TimeSpan.FromMilliseconds(10));
        Assert.True(failed.Task.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal("rank 2 of 8: the communicator reported ncclRemoteError: another rank failed or the network broke", failed.Task.Result);
    }

    [Fact]
    public void A_failing_completion_check_fails_the_run_naming_the_collective()
    {
        var failed = new TaskCompletionSource<string>();
        using var watchdog = new CollectiveWatchdog("rank 0 of 2", new CollectiveDeadline(TimeSpan.FromMinutes(10)), m => failed.TrySetResult(m), poll: TimeSpan.FromMilliseconds(10));
        watchdog.Watch("reduce-scatter of 64 floats per rank", () => throw new InvalidOperationException("cuEventQuery: CUDA_ERROR_ILLEGAL_ADDRESS"));
        Assert.True(failed.Task.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal("rank 0 of 2: reduce-scatter of 64 floats per rank failed: cuEventQuery: CUDA_ERROR_ILLEGAL_ADDRESS", failed.Task.Result);
    }

    [Fact]
    public void AllDone_asks_every_watched_collective_now()
    {
        bool second = false;
        using var watchdog = new CollectiveWatchdog("rank 0 of 2", new CollectiveDeadline(TimeSpan.FromMinutes(10)), _ => { }, poll: TimeSpan.FromHours(1));
        watchdog.Watch("first", () => true);
        watchdog.Watch("second", () => Volatile.Read(ref second));
        Assert.False(watchdog.AllDone());
        Volatile.Write(ref second, true);
        Assert.True(watchdog.AllDone()); // long before the next poll
    }
}
