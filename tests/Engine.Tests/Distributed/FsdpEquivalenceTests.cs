using System.Text.Json;
using Engine.Checkpoints;
using Engine.Distributed;
using Engine.Models;
using Engine.Parameters;
using Engine.Planning;
using Engine.Precision;
using Engine.Tests.Support;
using Engine.Training;
using static Engine.Tests.Distributed.EquivalentRuns;

namespace Engine.Tests.Distributed;

/// <summary>
/// FSDP against one process at the same global batch, through the real launcher: fully sharded over 2 and 4 ranks,
/// hybrid (sharding factor 2 of 4), with CPU offload, and keeping parameters from forward to backward: the losses of
/// 10 steps, the final parameters and AdamW's moments agree within 1e-5 relative. Checkpoints move between world
/// sizes and strategies; each rank holds what the ZeRO formulas say.
/// </summary>
public class FsdpEquivalenceTests
{
    [Theory]
    [InlineData("clm")]
    [InlineData("mlm")]
    [InlineData("span")]
    public void Sharded_runs_train_like_one_process(string objective)
    {
        using var temp = new TempFolder();
        var (exit, output) = Single(Args(objective, temp["one"], 10));
        Assert.True(exit == 0, output);
        var variants = new (string Name, int Ranks, string[] Flags, string Expect)[]
        {
            ("fsdp2", 2, [], "in 2 shards;"),
            ("fsdp4", 4, [], "in 4 shards;"),
            ("hybrid", 4, ["--sharding-factor", "2"], "in 2 shards, 2 replica groups (hybrid)"),
            ("offload", 2, ["--cpu-offload"], "shards and the optimizer step on the host"),
        };
        foreach (var (name, ranks, flags, expect) in variants)
        {
            (exit, output) = Mpi.Run(ranks, Args(objective, temp[name], 10, ["--strategy", "fsdp", .. flags]));
            Assert.True(exit == 0, output);
            Assert.Contains($"data parallel: {ranks} ranks over mpi", output);
            Assert.Contains(expect, output);
            AssertSameRun(temp["one"], temp[name], $"{objective}, {name}");
        }
    }

    /// <summary>
    /// Quantization-aware training sharded: the learnt steps are parameters of their layer's unit, gathered,
    /// reduce-scattered and updated (without decay) with it. span runs 5 steps: T5's first steps have losses near 25
    /// (its N(0, 1) word table), and there a last-bit difference from the shards' summation order that moves a value
    /// across a rounding boundary becomes a whole quantization step (measured: steps 1–8 within 1e-5, step 9 7e-4 apart).
    /// </summary>
    [Theory]
    [InlineData("clm", 10)]
    [InlineData("span", 5)]
    public void QAT_shards_train_like_one_process(string objective, int steps)
    {
        using var temp = new TempFolder();
        var (exit, output) = Single([.. Args(objective, temp["one"], steps, "--qat", "w8a8"), .. EquivalentRuns.QatOnBytes]);
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, [.. Args(objective, temp["fsdp"], steps, "--strategy", "fsdp", "--qat", "w8a8"), .. EquivalentRuns.QatOnBytes]);
        Assert.True(exit == 0, output);
        AssertSameQuantizedRun(temp["one"], temp["fsdp"], $"{objective} fsdp w8a8");
    }

    /// <summary>Mixed precision sharded: the shards are the fp32 master weights, the gathers move their 16-bit copy;
    /// fp16 with its loss scale and CPU offload.</summary>
    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16", "--cpu-offload")]
    public void Mixed_precision_shards_train_like_one_process(string precision, params string[] flags)
    {
        using var temp = new TempFolder();
        var (exit, output) = Single(Args("clm", temp["one"], 10, "--precision", precision));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, Args("clm", temp["sharded"], 10, ["--strategy", "fsdp", "--precision", precision, .. flags]));
        Assert.True(exit == 0, output);
        Assert.Contains($"{precision} mixed precision", output);
        AssertSameMixedRun(temp["one"], temp["sharded"], $"fsdp {precision} {string.Join(' ', flags)}");
    }

    /// <summary>A sharded mixed-precision checkpoint holds the fp32 master weights (the shards), so one process
    /// resumes it as its master copy and trains on as if it had run alone.</summary>
    [Fact]
    public void A_sharded_bf16_checkpoint_resumes_in_one_process()
    {
        using var temp = new TempFolder();
        Assert.Equal(0, Single(Args("clm", temp["straight"], 10, "--precision", "bf16")).Exit);
        var (exit, output) = Mpi.Run(2, Args("clm", temp["moved"], 5, "--strategy", "fsdp", "--precision", "bf16"));
        Assert.True(exit == 0, output);
        (exit, output) = Single("--resume", temp["moved"], "--steps", "10", "--sample-tokens", "0");
        Assert.True(exit == 0, output);
        AssertSameMixedRun(temp["straight"], temp["moved"], "fsdp bf16 → one process");
    }

    [Fact]
    public void Keeping_parameters_from_forward_to_backward_trains_the_same()
    {
        using var temp = new TempFolder();
        Assert.Equal(0, Single(Args("span", temp["one"], 10)).Exit);
        var (exit, output) = Mpi.Run(2, Args("span", temp["kept"], 10, "--strategy", "fsdp", "--reshard-after-forward", "false"));
        Assert.True(exit == 0, output);
        Assert.Contains("kept from forward to backward", output);
        AssertSameRun(temp["one"], temp["kept"], "span, parameters kept for backward");
        // Nothing is freed between forward and backward, so the peak holds every unit at once.
        var states = ModelStates(temp["kept"]);
        var plan = new ShardPlan(ShardPlan.UnitsOf(TransformerModel.LayoutOf(ConfigOf(temp["kept"]))), 2);
        Assert.Equal(plan.LocalCount * 2 * sizeof(float), states.GatheredParametersPeak);
    }

    [Fact]
    public void A_sharded_checkpoint_resumes_with_other_world_sizes_and_strategies()
    {
        using var temp = new TempFolder();
        Assert.Equal(0, Single(Args("clm", temp["straight"], 10)).Exit);
        // 4 sharded ranks for 4 steps, then 2 DDP ranks to 7, then one process to 10 …
        var (exit, output) = Mpi.Run(4, Args("clm", temp["moved"], 4, "--strategy", "fsdp"));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, "--resume", temp["moved"], "--steps", "7", "--strategy", "ddp", "--sample-tokens", "0");
        Assert.True(exit == 0, output);
        (exit, output) = Single("--resume", temp["moved"], "--steps", "10", "--sample-tokens", "0");
        Assert.True(exit == 0, output);
        AssertSameRun(temp["straight"], temp["moved"], "fsdp 4 → ddp 2 → one process");
        // … and one process's checkpoint continued by 2 sharded ranks with CPU offload.
        Assert.Equal(0, Single(Args("clm", temp["back"], 5)).Exit);
        (exit, output) = Mpi.Run(2, "--resume", temp["back"], "--steps", "10", "--strategy", "fsdp", "--cpu-offload", "--sample-tokens", "0");
        Assert.True(exit == 0, output);
        AssertSameRun(temp["straight"], temp["back"], "one process → fsdp 2 with offload");
    }

    [Fact]
    public void Each_rank_holds_the_ZeRO_share_of_the_model_states()
    {
        using var temp = new TempFolder();
        var (exit, output) = Mpi.Run(4, Args("clm", temp["full"], 2, "--strategy", "fsdp"));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(4, Args("clm", temp["hybrid"], 2, "--strategy", "fsdp", "--sharding-factor", "2"));
        Assert.True(exit == 0, output);
        (exit, output) = Mpi.Run(2, Args("clm", temp["ddp"], 2, "--strategy", "ddp"));
        Assert.True(exit == 0, output);

        var config = ConfigOf(temp["full"]);
        var layout = TransformerModel.LayoutOf(config);
        var planned = PlannedModel.FromConfig("tiny", config);
        foreach (var (folder, shards, gpus) in new[] { ("full", 4, 4), ("hybrid", 2, 4) })
        {
            var states = ModelStates(temp[folder]);
            var shardPlan = new ShardPlan(ShardPlan.UnitsOf(layout), shards);
            // Measured: exactly this rank's padded blocks of every unit, for parameters, gradients and both moments.
            long shard = shardPlan.LocalCount * sizeof(float);
            Assert.Equal((shard, shard, 2 * shard), (states.Parameters, states.Gradients, states.Optimizer));
            // The ZeRO-3 formula (N·bytes/F per component) agrees up to the padding: at most F−1 elements per unit.
            var zero = MemoryPlan.Compute(planned, PrecisionMode.Fp32, ParallelSetup.Create(ParallelStrategy.Fsdp, gpus, shardingFactor: shards), 2, 64);
            double padding = shardPlan.Units.Count * (shards - 1) * sizeof(float);
            Assert.InRange(states.Parameters - zero.Weights, 0, padding);
            Assert.InRange(states.Gradients - zero.Gradients, 0, padding);
            Assert.InRange(states.Optimizer - zero.Optimizer, 0, 2 * padding);
            // In flight: parameters and gradients of at most the 2 units the store keeps plus the one gathered ahead
            // or being reduce-scattered (overlap, on by default), at least the largest: what the plan's temporaries budget.
            long largest = shardPlan.LargestUnitPadded * sizeof(float);
            int inFlight = new FsdpOptions().UnitsInFlight + 1;
            Assert.InRange(states.GatheredParametersPeak, largest, inFlight * largest);
            Assert.InRange(states.OpenGradientsPeak, largest, inFlight * largest);
            double tokens = 2.0 * 2 * 64 * sizeof(int); // the micro-batch's token ids and targets
            Assert.True(states.GatheredParametersPeak + states.OpenGradientsPeak + tokens
                        <= MemoryPlan.TemporaryBytes(planned, PrecisionMode.Fp32, ParallelSetup.Create(ParallelStrategy.Fsdp, gpus, shardingFactor: shards), 2, 64) + 3 * padding);
        }
        var replicated = ModelStates(temp["ddp"]);
        Assert.Equal(layout.Count * sizeof(float), replicated.Parameters);
        Assert.Equal(2 * layout.Count * sizeof(float), replicated.Optimizer);
        Assert.Equal(0, replicated.GatheredParametersPeak);
    }

    [Fact]
    public void A_sharding_factor_that_does_not_divide_the_world_is_refused()
    {
        using var temp = new TempFolder();
        var (exit, output) = Mpi.Run(4, Args("clm", temp["run"], 2, "--strategy", "fsdp", "--sharding-factor", "3"));
        Assert.NotEqual(0, exit);
        Assert.Contains("--sharding-factor 3 does not divide the world size 4", output);
        Assert.False(Directory.Exists(Path.Combine(temp["run"], "checkpoint")));
    }

    [Fact]
    public void Sharding_flags_without_fsdp_are_refused()
    {
        using var temp = new TempFolder();
        var (exit, output) = Single(Args("clm", temp["run"], 2, "--cpu-offload"));
        Assert.NotEqual(0, exit);
        Assert.Contains("add --strategy fsdp", output);
    }

    static ModelStateBytes ModelStates(string runFolder)
    {
        var summary = JsonSerializer.Deserialize<TrainingSummary>(File.ReadAllText(Path.Combine(runFolder, "summary.json")), Checkpoint.Json)!;
        return summary.ModelStates ?? throw new InvalidOperationException($"{runFolder}/summary.json has no model_states");
    }

    static TransformerConfig ConfigOf(string runFolder) => Checkpoint.ReadModelConfig(Path.Combine(runFolder, "checkpoint"));
}
