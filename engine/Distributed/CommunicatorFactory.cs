using Engine.Backends;
using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Chooses the transport for this launch: one process → single; several → NCCL on a GPU backend or MPI on the CPU
/// backend. mpirun launches and Slurm's srun (Open MPI joins through PMIx: srun with the pmix MPI plugin) join over MPI, which
/// also hands out NCCL's unique id. A torchrun-style launch (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) has no MPI:
/// its GPU ranks meet through a TCP rendezvous that hands out only the unique id, and NCCL carries everything else;
/// its CPU ranks are refused, since CPU processes have no transport but MPI.
/// </summary>
public static class CommunicatorFactory
{
    /// <param name="dataParallel">The ddp or fsdp strategy: on a GPU even one process then goes through NCCL, so a
    /// one-GPU run exercises the code a multi-GPU run uses.</param>
    /// <param name="backends">The run's backends: a GPU among them carries the collectives over NCCL.</param>
    public static ICommunicator Create(BackendStack backends, LaunchEnvironment launch, bool dataParallel = false)
    {
        var backend = backends.Compute;
        if (!launch.IsDistributed)
            return dataParallel && backends.Gpu is { } one
                ? NcclCommunicator.Create(one, new SingleProcessCommunicator(backend))
                : new SingleProcessCommunicator(backend);
        if (launch.Launcher == "torchrun") return JoinWithoutMpi(backends, launch);
        if (launch.Launcher is not ("mpirun" or "slurm"))
            throw new EngineException($"{launch.Launcher} launch with {launch.WorldSize} ranks is not one this engine joins; launch with `mpirun -np {launch.WorldSize} dotnet trainer.dll …`");
        var mpi = MpiCommunicator.World();
        if (mpi.Rank != launch.Rank || mpi.WorldSize != launch.WorldSize)
            throw new EngineException($"MPI says rank {mpi.Rank} of {mpi.WorldSize} but the launcher's variables say {launch.Rank} of {launch.WorldSize}: is this libmpi the one mpirun belongs to?");
        // Under the 16-bit storage layer the device is still a GPU, and its memory NCCL's to move.
        return backends.Gpu is { } gpu ? NcclCommunicator.Create(gpu, mpi) : mpi;
    }

    static ICommunicator JoinWithoutMpi(BackendStack backends, LaunchEnvironment launch)
    {
        if (backends.Gpu is not { } gpu)
            throw new EngineException(EngineOption.Device, $"{launch.Launcher}-style launch (RANK, WORLD_SIZE) of {launch.WorldSize} ranks on the {backends.Device.Name} backend: CPU ranks join through Open MPI, "
                + $"as there is no transport between CPU processes without it; launch them with `mpirun -np {launch.WorldSize} dotnet trainer.dll …` "
                + $"(a TCP rendezvous joins GPU ranks only, over NCCL: {EngineOption.Device} cuda)");
        return NcclCommunicator.Create(gpu, TcpRendezvous.ForLaunch(launch));
    }
}
