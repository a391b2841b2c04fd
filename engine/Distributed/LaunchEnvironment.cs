namespace Engine.Distributed;

/// <summary>
/// Who this process is in a distributed launch, read from the launcher's variables: mpirun (OMPI_COMM_WORLD_*),
/// torchrun-style (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or Slurm (SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID). None of them: a single process.
/// </summary>
public sealed record LaunchEnvironment(int Rank, int WorldSize, int LocalRank, string Launcher, string? MasterAddress = null, int? MasterPort = null)
{
    public bool IsDistributed => WorldSize > 1;

    public static LaunchEnvironment Detect() => Detect(name => Environment.GetEnvironmentVariable(name));

    public static LaunchEnvironment Detect(Func<string, string?> variable)
    {
        int? Int(string name)
        {
            string? text = variable(name);
            if (string.IsNullOrEmpty(text)) return null;
            return int.TryParse(text, out int value) && value >= 0
                ? value
                : throw new EngineException($"environment variable {name}={text} is not a non-negative integer; fix the launch command");
        }

        LaunchEnvironment? found = null;
        if (Int("OMPI_COMM_WORLD_SIZE") is int mpiSize)
            found = new(Int("OMPI_COMM_WORLD_RANK") ?? 0, mpiSize, Int("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0, "mpirun");
        else if (Int("WORLD_SIZE") is int size)
            found = new(Int("RANK") ?? throw new EngineException("WORLD_SIZE is set but RANK is not: set both (torchrun-style launch)"),
                size, Int("LOCAL_RANK") ?? 0, "torchrun", variable("MASTER_ADDR"), Int("MASTER_PORT"));
        else if (Int("SLURM_NTASKS") is int tasks)
            found = new(Int("SLURM_PROCID") ?? 0, tasks, Int("SLURM_LOCALID") ?? 0, "slurm");
        found ??= new(0, 1, 0, "single process");
        if (found.WorldSize == 0 || found.Rank >= found.WorldSize)
            throw new EngineException($"{found.Launcher}: rank {found.Rank} is not within a world of {found.WorldSize}; fix the launch command");
        return found;
    }
}
