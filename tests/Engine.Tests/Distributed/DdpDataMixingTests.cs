using Engine.Tests.Support;
using Engine.Tests.Training;
using static Engine.Tests.Distributed.EquivalentRuns;

namespace Engine.Tests.Distributed;

/// <summary>
/// A data mixture under DDP: every rank computes the same source for every row of the global batch (the schedule
/// depends only on the weights and the counts) and takes its own rows, so two ranks train like one process.
/// </summary>
public class DdpDataMixingTests
{
    [Fact]
    public void Two_ranks_train_a_mixture_like_one_process()
    {
        using var data = new MixingFolders();
        using var temp = new TempFolder();
        string[] mixture = ["--data", $"{data.Rx}:3", "--data", data.Prose];
        var (exit, output) = Single(Args("clm", temp["one"], 6, mixture));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, Args("clm", temp["ddp"], 6, [.. mixture, "--strategy", "ddp"]));
        Assert.True(exit == 0, output);
        AssertSameRun(temp["one"], temp["ddp"], "ddp, two sources 3:1");
    }
}
