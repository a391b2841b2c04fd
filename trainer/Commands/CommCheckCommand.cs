using Engine;
using Engine.Backends;
using Engine.Distributed;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer comm-check`: joins the ranks of this launch and runs every collective with values each rank can
/// predict, so a user knows the launch works (MPI found, ranks agree, NCCL joins) before paying for a run.
/// </summary>
public static class CommCheckCommand
{
    public static CommandSpec Spec => new()
    {
        Name = "comm-check",
        Summary = "Checks that the ranks of a distributed launch can talk: runs every collective and verifies the results.",
        Usage = "mpirun -np N dotnet trainer.dll comm-check [--device auto|cpu|cuda] [--elements N]",
        Options = new[]
        {
            new OptionSpec("device", "auto|cpu|cuda", "cpu: MPI between processes; cuda: NCCL between GPUs", "cpu"),
            new OptionSpec("elements", "N", "floats per collective (a multiple of the world size)", "1000"),
        },
        Epilog = "As root, mpirun needs --allow-run-as-root; more ranks than cores need --oversubscribe.",
        Run = Run,
    };

    static int Run(ParsedOptions p, CancellationToken cancellation)
    {
        var launch = LaunchEnvironment.Detect();
        int elements = p.Int("elements", 1000, 1);
        using var backend = BackendFactory.Create(p.Choice("device", "cpu", BackendFactory.Choices), out string note);
        using var comm = CommunicatorFactory.Create(backend, launch);
        var failures = CommunicatorSelfTest.Run(comm, backend, elements);
        foreach (var failure in failures) Console.Error.WriteLine($"rank {comm.Rank}: {failure}");
        Span<double> failed = [failures.Count];
        comm.AllReduceSum(failed);
        if (comm.Rank == 0)
            Console.WriteLine(failed[0] == 0
                ? $"comm-check: {comm.WorldSize} rank(s) over {comm.Transport} ({launch.Launcher}; {note}): all-reduce, reduce-scatter, all-gather, broadcast, split and barrier correct"
                : $"comm-check: {failed[0]} failure(s) over {comm.Transport}; see the messages above");
        return failed[0] == 0 ? 0 : 1;
    }
}
