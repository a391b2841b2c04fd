using System.Diagnostics;
using Engine.Checkpoints;
using Engine.Training;
using Engine.Tests.Support;
using static Engine.Tests.Distributed.EquivalentRuns;

namespace Engine.Tests.Distributed;

/// <summary>
/// A rank that dies in the middle of a data-parallel run (killed with SIGKILL, as the OOM killer or a lost node
/// would) ends the whole job within a bounded time with a message naming the rank, and the run folder still holds a
/// checkpoint that loads: checkpoints are written beside the old one and swapped in by renames, so a job stopped at
/// any moment leaves the last complete one.
/// </summary>
public class RankFailureTests
{
    [Theory]
    [InlineData("ddp")]
    [InlineData("fsdp")]
    public void A_rank_killed_mid_run_ends_the_job_and_leaves_a_loadable_checkpoint(string strategy)
    {
        using var temp = new TempFolder();
        string run = temp["run"];
        var clock = new Stopwatch();
        var (exit, output) = Mpi.Run(2, mpirun =>
        {
            // Wait for the first checkpoint, so the kill lands while later ones are being written.
            var wait = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(run, "checkpoint", Checkpoint.StateFile)) && !mpirun.HasExited && wait.Elapsed < TimeSpan.FromMinutes(2))
                Thread.Sleep(50);
            Assert.False(mpirun.HasExited, "the run ended before its first checkpoint");
            int victim = RankProcess(run, rank: 1);
            clock.Start();
            Process.GetProcessById(victim).Kill();
        }, Args("clm", run, 100000, "--strategy", strategy, "--checkpoint-every", "1"));
        clock.Stop();

        Assert.NotEqual(0, exit);
        Assert.Contains("rank 1", output); // mpirun names the rank that died
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the job took {clock.Elapsed.TotalSeconds:F0} s to stop after a rank died");
        string checkpoint = Checkpoint.Locate(run);
        var state = TrainerState.Read(checkpoint)!;
        Assert.True(state.Step >= 1);
        var weights = SafeTensors.Read(Path.Combine(checkpoint, Checkpoint.WeightsFile));
        Assert.NotEmpty(weights);
    }

    /// <summary>The PID of the trainer process that mpirun started as this rank of the run writing to runFolder.</summary>
    static int RankProcess(string runFolder, int rank)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (!commandLine.Contains("trainer.dll") || !commandLine.Contains(runFolder) || commandLine.Contains("mpirun")) continue;
                string environment = File.ReadAllText(Path.Combine(dir, "environ"));
                if (environment.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"no process for rank {rank} of the run in {runFolder}");
    }
}
