using Engine.Checkpoints;
using Engine.Tests.Support;
using static Engine.Tests.Distributed.EquivalentRuns;

namespace Engine.Tests.Distributed;

/// <summary>
/// DDP against one process at the same global batch, through the real launcher (`mpirun … trainer.dll`): the losses of
/// 10 steps and the final parameters agree within 1e-5 relative (fp32; the ranks only sum the same gradients in a
/// different order), and a checkpoint written by N ranks resumes with M.
/// </summary>
public class DdpEquivalenceTests
{
    [Theory]
    [InlineData("clm")]
    [InlineData("mlm")]
    [InlineData("span")]
    public void Two_and_four_ranks_train_like_one_process(string objective)
    {
        using var temp = new TempFolder();
        var (exit, output) = Single(Args(objective, temp["one"], 10));
        Assert.True(exit == 0, output);
        foreach (int ranks in new[] { 2, 4 })
        {
            (exit, output) = Mpi.Run(ranks, Args(objective, temp[$"ddp{ranks}"], 10, "--strategy", "ddp"));
            Assert.True(exit == 0, output);
            Assert.Contains($"data parallel: {ranks} ranks over mpi", output);
            AssertSameRun(temp["one"], temp[$"ddp{ranks}"], $"{objective}, {ranks} ranks");
        }
    }

    /// <summary>Quantization-aware training: the steps' gradients are summed with the weights', and calibration adds the
    /// ranks' input statistics over the first global batch, so two replicas start from and learn the same steps.</summary>
    [Fact]
    public void QAT_replicas_train_like_one_process()
    {
        using var temp = new TempFolder();
        var (exit, output) = Single([.. Args("clm", temp["one"], 10, "--qat", "w4a8"), .. EquivalentRuns.QatOnBytes]);
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, [.. Args("clm", temp["ddp"], 10, "--strategy", "ddp", "--qat", "w4a8"), .. EquivalentRuns.QatOnBytes]);
        Assert.True(exit == 0, output);
        AssertSameQuantizedRun(temp["one"], temp["ddp"], "ddp w4a8");
    }

    /// <summary>
    /// 8-bit AdamW: every replica quantizes the summed gradients' moments on the same blocks, so losses and weights agree
    /// as fp32's do. The stored codes may not: a gradient summed in another order (last bits) can move a moment across
    /// the midpoint of two codes, and that code then differs by one (measured: 1.45e-5 relative over the saved codes,
    /// absmax values and small tensors' moments, against fp32's 1e-5 bound); 1e-4 allows a few such codes, not a
    /// wrong block.
    /// </summary>
    [Fact]
    public void Eight_bit_AdamW_replicas_train_like_one_process()
    {
        using var temp = new TempFolder();
        var (exit, output) = Single(Args("mlm", temp["one"], 10, "--optimizer", "adamw8bit"));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, Args("mlm", temp["ddp"], 10, "--strategy", "ddp", "--optimizer", "adamw8bit"));
        Assert.True(exit == 0, output);
        AssertSameRun(temp["one"], temp["ddp"], "ddp adamw8bit", momentTolerance: 1e-4);
    }

    [Fact]
    public void Mixed_precision_replicas_train_like_one_process()
    {
        using var temp = new TempFolder();
        var (exit, output) = Single(Args("mlm", temp["one"], 10, "--precision", "bf16"));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, Args("mlm", temp["ddp"], 10, "--strategy", "ddp", "--precision", "bf16"));
        Assert.True(exit == 0, output);
        AssertSameMixedRun(temp["one"], temp["ddp"], "ddp bf16");
    }

    [Fact]
    public void A_checkpoint_from_two_ranks_resumes_in_one_process()
    {
        using var temp = new TempFolder();
        Assert.Equal(0, Single(Args("clm", temp["straight"], 10)).Exit);
        var (exit, output) = Mpi.Run(2, Args("clm", temp["split"], 5, "--strategy", "ddp"));
        Assert.True(exit == 0, output);
        (exit, output) = Single("--resume", temp["split"], "--steps", "10", "--sample-tokens", "0");
        Assert.True(exit == 0, output);
        AssertSameRun(temp["straight"], temp["split"], "2 ranks then 1");
    }

    [Fact]
    public void A_global_batch_that_does_not_split_over_the_ranks_is_refused()
    {
        using var temp = new TempFolder();
        var (exit, output) = Mpi.Run(4, ["--objective", "clm", .. Tiny[..^4], "--batch", "6", "--micro-batch", "2", "--steps", "2", "--out", temp["run"], "--strategy", "ddp"]);
        Assert.NotEqual(0, exit);
        Assert.Contains("--batch 6 does not split over 4 ranks", output);
        Assert.False(File.Exists(Path.Combine(temp["run"], "checkpoint", Checkpoint.WeightsFile)));
    }

    [Fact]
    public void Ranks_without_a_strategy_are_told_to_choose_one()
    {
        using var temp = new TempFolder();
        var (exit, output) = Mpi.Run(2, Args("clm", temp["run"], 2));
        Assert.NotEqual(0, exit);
        Assert.Contains("add --strategy ddp", output);
    }
}
