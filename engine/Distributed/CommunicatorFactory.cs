using Engine.Backends.Cuda;
using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Chooses the transport for this launch: one process → single; several → NCCL on a GPU backend (bootstrapped over
/// MPI) or MPI on the CPU backend. mpirun launches and Slurm's srun (Open MPI joins through PMIx: srun --mpi=pmix)
/// are joined over MPI; a torchrun-style launch would need a TCP rendezvous, which is not built, and is refused with
/// the command that works.
/// </summary>
public static class CommunicatorFactory
{
    /// <param name="dataParallel">--strategy ddp or fsdp: on a GPU even one process then goes through NCCL, so a
    /// one-GPU run exercises the code a multi-GPU run uses.</param>
    public static ICommunicator Create(IBackend backend, LaunchEnvironment launch, bool dataParallel = false)
    {
        if (!launch.IsDistributed)
            return dataParallel && backend is CudaBackend one
                ? NcclCommunicator.Create(one, new SingleProcessCommunicator(backend))
                : new SingleProcessCommunicator(backend);
        if (launch.Launcher is not ("mpirun" or "slurm"))
            throw new EngineException($"{launch.Launcher} launch with {launch.WorldSize} ranks: joining ranks without MPI (a TCP rendezvous on MASTER_ADDR:MASTER_PORT) is not built yet; launch with `mpirun -np {launch.WorldSize} dotnet trainer.dll …`");
        var mpi = MpiCommunicator.World();
        if (mpi.Rank != launch.Rank || mpi.WorldSize != launch.WorldSize)
            throw new EngineException($"MPI says rank {mpi.Rank} of {mpi.WorldSize} but the launcher's variables say {launch.Rank} of {launch.WorldSize}: is this libmpi the one mpirun belongs to?");
        return backend is CudaBackend gpu ? NcclCommunicator.Create(gpu, mpi) : mpi;
    }
}
