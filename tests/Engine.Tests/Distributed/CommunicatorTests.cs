using System.Diagnostics;
using Engine.Backends.Cpu;
using Engine.Distributed;

namespace Engine.Tests.Distributed;

/// <summary>
/// The collectives on every transport this machine has: the single process here, Open MPI with 2 and 4 processes
/// through `mpirun … trainer.dll comm-check` (CI installs Open MPI; on a machine without mpirun these skip and say
/// how to install it).
/// </summary>
public class CommunicatorTests
{
    [Fact]
    public void A_single_process_passes_every_collective()
    {
        using var backend = new CpuBackend();
        using var comm = new SingleProcessCommunicator(backend);
        Assert.Empty(CommunicatorSelfTest.Run(comm, backend));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Ranks_under_mpirun_pass_every_collective(int ranks)
    {
        var (exit, output) = Mpi.Run(ranks, "comm-check", "--elements", "1200");
        Assert.True(exit == 0, output);
        Assert.Contains($"comm-check: {ranks} rank(s) over mpi", output);
    }

    [Fact]
    public void A_rank_that_never_arrives_ends_the_run_with_an_error_not_a_hang()
    {
        var clock = Stopwatch.StartNew();
        var (exit, output) = Mpi.Run(2, "comm-check", "--timeout", "3", "--absent-rank", "1");
        Assert.NotEqual(0, exit);
        Assert.Contains("did not complete within 3 s (ENGINE_COMM_TIMEOUT_S fixes it): rank 1 did not arrive: stopped, stuck or dead", output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed.TotalSeconds:F0} s"); // 3 s wait + start-up and mpirun's clean-up
    }
}

/// <summary>Runs the trainer under mpirun from the test's output folder, with a time limit so a hang fails.</summary>
public static class Mpi
{
    public static (int Exit, string Output) Run(int ranks, params string[] trainerArgs) => Run(ranks, null, trainerArgs);

    /// <param name="whileRunning">Called once mpirun has started (a fault test kills a rank from here).</param>
    public static (int Exit, string Output) Run(int ranks, Action<Process>? whileRunning, params string[] trainerArgs) =>
        Run(ranks, new Dictionary<string, string>(), whileRunning, trainerArgs);

    /// <param name="environment">Variables every rank sees (mpirun's local ranks inherit its environment).</param>
    public static (int Exit, string Output) Run(int ranks, IReadOnlyDictionary<string, string> environment, Action<Process>? whileRunning, params string[] trainerArgs)
    {
        RequireMpirun();
        string mpirun = FindMpirun()!;
        // Root in CI containers needs --allow-run-as-root; 4 ranks on 2 cores need --oversubscribe.
        return Execute(mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), "dotnet", Path.Combine(AppContext.BaseDirectory, "trainer.dll"), .. trainerArgs], whileRunning, environment);
    }

    /// <summary>Skips without mpirun; a test whose one-process reference run comes first calls it before that run.</summary>
    public static void RequireMpirun() =>
        Assert.SkipWhen(FindMpirun() == null, "no Open MPI (mpirun not on PATH): apt-get install openmpi-bin libopenmpi-dev; .ci/run installs it");

    /// <summary>The trainer as its own process without mpirun (one rank), for comparisons with the launched runs.</summary>
    public static (int Exit, string Output) RunDirect(params string[] trainerArgs) =>
        Execute("dotnet", [Path.Combine(AppContext.BaseDirectory, "trainer.dll"), .. trainerArgs]);

    static (int Exit, string Output) Execute(string program, string[] arguments, Action<Process>? whileRunning = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        // A test process launched by a parent mpirun must not inherit its rank: the child is its own launch.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("OMPI_") || k.StartsWith("PMIX_")).ToList()) start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        whileRunning?.Invoke(process);
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in 5 minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    static string? FindMpirun() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);
}
