using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>
/// The collectives' deadline learnt from the run, on a fake clock: generous until the first step is done, then ten
/// times the slowest step with a 30 s floor, a step counted from one report to the next when that is longer (it then
/// holds the wait for rank 0's checkpoint); a fixed bound (ENGINE_COMM_TIMEOUT_S) never learns.
/// </summary>
public class CollectiveDeadlineTests
{
    sealed class FakeClock
    {
        public TimeSpan Now;
        public void Advance(double seconds) => Now += TimeSpan.FromSeconds(seconds);
    }

    [Fact]
    public void Before_the_first_step_the_bound_is_the_set_up_bound()
    {
        var deadline = new CollectiveDeadline(clock: () => TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromMinutes(10), deadline.Current);
        Assert.Equal("in set-up or the first step", deadline.Where());
        Assert.Equal("the bound for set-up and the first step, before a step's pace is known", deadline.Describe());
    }

    [Fact]
    public void Fast_steps_give_the_30_second_floor()
    {
        var clock = new FakeClock();
        var deadline = new CollectiveDeadline(clock: () => clock.Now);
        for (int step = 1; step <= 5; step++)
        {
            clock.Advance(0.2);
            deadline.StepCompleted(step, TimeSpan.FromSeconds(0.2));
        }
        Assert.Equal(TimeSpan.FromSeconds(30), deadline.Current);
        Assert.Equal("in step 6", deadline.Where());
        Assert.Equal("learnt from this run: 10 × its slowest step so far (0.2 s), at least 30 s", deadline.Describe());
    }

    [Fact]
    public void The_bound_is_ten_times_the_slowest_step_and_never_shrinks()
    {
        var clock = new FakeClock();
        var deadline = new CollectiveDeadline(clock: () => clock.Now);
        clock.Advance(4); deadline.StepCompleted(1, TimeSpan.FromSeconds(4));
        clock.Advance(6); deadline.StepCompleted(2, TimeSpan.FromSeconds(6));
        clock.Advance(1); deadline.StepCompleted(3, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(60), deadline.Current);
        Assert.Equal(TimeSpan.FromSeconds(6), deadline.SlowestStep);
        Assert.Equal(3, deadline.LastStep);
    }

    [Fact]
    public void Time_between_reports_counts_when_it_is_longer_than_the_step()
    {
        // A rank other than 0 waits in its next step's first collective while rank 0 writes a checkpoint: its own timer
        // does not see that wait, the time between its reports does.
        var clock = new FakeClock();
        var deadline = new CollectiveDeadline(clock: () => clock.Now);
        clock.Advance(1); deadline.StepCompleted(10, TimeSpan.FromSeconds(1));
        clock.Advance(8); deadline.StepCompleted(11, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(8), deadline.SlowestStep);
        Assert.Equal(TimeSpan.FromSeconds(80), deadline.Current);
        Assert.Equal("in step 12", deadline.Where()); // steps are the run's, so a resumed run names them right
    }

    [Fact]
    public void A_fixed_bound_does_not_learn()
    {
        var clock = new FakeClock();
        var deadline = new CollectiveDeadline(TimeSpan.FromSeconds(20), () => clock.Now);
        Assert.True(deadline.IsFixed);
        Assert.Equal(TimeSpan.FromSeconds(20), deadline.Current);
        clock.Advance(50); deadline.StepCompleted(1, TimeSpan.FromSeconds(50));
        Assert.Equal(TimeSpan.FromSeconds(20), deadline.Current);
        Assert.Equal("ENGINE_COMM_TIMEOUT_S fixes it", deadline.Describe());
    }

    [Fact]
    public void A_timed_out_collective_names_the_rank_the_collective_the_step_the_bound_and_the_missing_rank()
    {
        var clock = new FakeClock();
        var deadline = new CollectiveDeadline(clock: () => clock.Now);
        clock.Advance(0.5); deadline.StepCompleted(7, TimeSpan.FromSeconds(0.5));
        var e = CommunicationException.TimedOut("rank 0 of 2", "all-reduce of 1 numbers", deadline, CommunicationException.Missing(0, 2));
        Assert.Equal("rank 0 of 2: all-reduce of 1 numbers in step 8 did not complete within 30 s (learnt from this run: 10 × its slowest step so far (0.5 s), at least 30 s): "
            + "rank 1 did not arrive: stopped, stuck or dead. Set ENGINE_COMM_TIMEOUT_S to wait longer; the run's last checkpoint resumes it", e.Message);
        Assert.Equal("another rank", CommunicationException.Missing(2, 4)); // a collective of more than two does not say which
    }
}
