using Engine;
using Engine.Backends;
using Engine.Distributed;
using System.CommandLine;
using Trainer.Cli;

namespace Trainer.Commands;

/// <summary>
/// `trainer comm-check`: joins the ranks of this launch and runs every collective with values each rank can
/// predict, so a user knows the launch works (MPI found, ranks agree, NCCL joins) before paying for a run.
/// </summary>
public static class CommCheckCommand
{
    public static TrainerCommand Create()
    {
        var device = Flags.Choice("device", ChoiceNames.Devices, "cpu: MPI between processes; cuda: NCCL between GPUs", "cpu");
        var elements = Flags.Int("elements", "N", "floats per collective (a multiple of the world size)", "1000", 1);
        var timeout = Flags.Double("timeout", "S", "seconds a collective may wait for the other ranks (ENGINE_COMM_TIMEOUT_S)", "600", 0.001);
        var absentRank = Flags.Int("absent-rank", "R", "rank R stays away from the collectives for longer than the timeout: shows how a run reports a missing or stuck rank");
        var command = new TrainerCommand("comm-check", "Checks that the ranks of a distributed launch can talk: runs every collective and verifies the results.",
            "mpirun -np N dotnet trainer.dll comm-check [--device auto|cpu|cuda] [--elements N] [--timeout S]",
            "As root, mpirun needs --allow-run-as-root; more ranks than cores need --oversubscribe. GPU ranks may also be launched "
            + "without MPI, torchrun-style: RANK=r WORLD_SIZE=N LOCAL_RANK=l MASTER_ADDR=host MASTER_PORT=port dotnet trainer.dll comm-check --device cuda "
            + "(docs/distributed.md).")
            .With(device, elements, timeout, absentRank);
        command.SetRun((p, _) => Run(p.GetValue(device) ?? DeviceKind.Cpu, p.GetValue(elements) ?? 1000, p.GetValue(timeout) ?? 600, p.GetValue(absentRank)));
        return command;
    }

    static int Run(DeviceKind device, int elements, double timeout, int? absent)
    {
        var launch = LaunchEnvironment.Detect();
        Environment.SetEnvironmentVariable("ENGINE_COMM_TIMEOUT_S", timeout.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var backends = BackendFactory.Create(device, out var deviceNote, launch.LocalRank); // one GPU per rank
        var backend = backends.Compute;
        string note = FlagNames.Render(deviceNote);
        // The transport a data-parallel run would use: NCCL on a GPU even for one process.
        using var comm = CommunicatorFactory.Create(backends, launch, dataParallel: true);
        if (absent == comm.Rank)
        {
            Thread.Sleep(TimeSpan.FromSeconds(timeout + 30)); // the others give up first; mpirun then stops this rank
            return 1;
        }
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
