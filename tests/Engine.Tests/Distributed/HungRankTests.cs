using System.Diagnostics;
using Engine.Checkpoints;
using Engine.Distributed;
using Engine.Tests.Support;
using Engine.Training;
using static Engine.Tests.Distributed.EquivalentRuns;

namespace Engine.Tests.Distributed;

/// <summary>
/// A rank that stops taking part without dying (SIGSTOPped, deadlocked, a hung driver) is noticed within the bound
/// learnt from the run, with the default settings: on a small run the job ends in well under a minute, exit code 4
/// (a communication failure), with a message naming the rank that did not arrive, the collective, the step and the
/// command that resumes the run, whose checkpoint loads. The stall is the test-only hook ENGINE_TEST_STALL_RANK (the
/// fault script SIGSTOPs a real rank).
/// </summary>
public class HungRankTests
{
    [Fact]
    public void A_rank_that_stops_answering_ends_the_job_within_a_minute_naming_it()
    {
        using var temp = new TempFolder();
        string run = temp["run"];
        var sinceStall = new Stopwatch();
        var environment = new Dictionary<string, string> { [StallForTests.Variable] = "1:3", [CommunicationTimeout.Variable] = "" };
        var (exit, output) = Mpi.Run(2, environment, mpirun =>
        {
            // Rank 1 stalls right after step 3; the clock starts when rank 0 has written that step.
            string metrics = Path.Combine(run, "metrics.jsonl");
            var wait = Stopwatch.StartNew();
            while (!mpirun.HasExited && wait.Elapsed < TimeSpan.FromMinutes(3) && !(File.Exists(metrics) && File.ReadAllLines(metrics).Any(l => l.StartsWith("{\"step\":3,"))))
                Thread.Sleep(50);
            sinceStall.Start();
            mpirun.WaitForExit(TimeSpan.FromMinutes(3));
            sinceStall.Stop();
        }, Args("clm", run, 100000, "--strategy", "ddp", "--checkpoint-every", "2"));

        Assert.True(exit == CommunicationException.ExitCode, $"exit {exit}: {output}");
        Assert.Contains("rank 0 of 2: ", output);
        // 30 s unless this busy machine made a step slower than 3 s.
        Assert.Matches(@"all-reduce of [0-9]+ (floats|numbers) in step 4 did not complete within [0-9.]+ s \(learnt from this run: 10 × its slowest step so far \([0-9.]+ s\), at least 30 s\)", output);
        Assert.Contains("rank 1 did not arrive: stopped, stuck or dead", output);
        Assert.Contains($"the run's last checkpoint resumes it: --resume {run}", output);
        Assert.True(sinceStall.Elapsed < TimeSpan.FromSeconds(60), $"the job took {sinceStall.Elapsed.TotalSeconds:F0} s to end after rank 1 stalled");
        var state = TrainerState.Read(Checkpoint.Locate(run))!;
        Assert.Equal(2, state.Step);
        Assert.NotEmpty(SafeTensors.Read(Path.Combine(Checkpoint.Locate(run), Checkpoint.WeightsFile)));
    }
}
