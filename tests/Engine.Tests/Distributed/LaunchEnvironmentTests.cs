using Engine.Distributed;

namespace Engine.Tests.Distributed;

public class LaunchEnvironmentTests
{
    static LaunchEnvironment Detect(params (string Name, string Value)[] variables) =>
        LaunchEnvironment.Detect(name => variables.FirstOrDefault(v => v.Name == name).Value);

    [Fact]
    public void No_launcher_means_one_process()
    {
        var launch = Detect();
        Assert.Equal((0, 1, 0), (launch.Rank, launch.WorldSize, launch.LocalRank));
        Assert.False(launch.IsDistributed);
    }

    [Fact]
    public void Mpirun_torchrun_and_Slurm_variables_are_read()
    {
        var mpi = Detect(("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "8"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"));
        Assert.Equal((3, 8, 1, "mpirun"), (mpi.Rank, mpi.WorldSize, mpi.LocalRank, mpi.Launcher));
        var torch = Detect(("RANK", "5"), ("WORLD_SIZE", "16"), ("LOCAL_RANK", "5"), ("MASTER_ADDR", "node0"), ("MASTER_PORT", "29500"));
        Assert.Equal((5, 16, 5, "torchrun", "node0", 29500), (torch.Rank, torch.WorldSize, torch.LocalRank, torch.Launcher, torch.MasterAddress, torch.MasterPort));
        var slurm = Detect(("SLURM_PROCID", "9"), ("SLURM_NTASKS", "64"), ("SLURM_LOCALID", "1"));
        Assert.Equal((9, 64, 1, "slurm"), (slurm.Rank, slurm.WorldSize, slurm.LocalRank, slurm.Launcher));
    }

    [Fact]
    public void Inconsistent_or_malformed_variables_name_the_problem()
    {
        Assert.Contains("WORLD_SIZE=four", Assert.Throws<EngineException>(() => Detect(("WORLD_SIZE", "four"), ("RANK", "0"))).Message);
        Assert.Contains("RANK is not", Assert.Throws<EngineException>(() => Detect(("WORLD_SIZE", "4"))).Message);
        Assert.Contains("rank 4 is not within a world of 4", Assert.Throws<EngineException>(() => Detect(("RANK", "4"), ("WORLD_SIZE", "4"))).Message);
    }
}
