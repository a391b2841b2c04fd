using Trainer.Cli;
using Engine.Distributed;
using Engine.Tensors;
using Engine.Precision;
using Engine.Models;
using Engine.Planning;

namespace Engine.Tests.Planning;

public class MemoryPlanTests
{
    static PlannedModel Params(double n) => PlannedModel.ForParameters((long)n, PlannedModel.Gpt2Vocab, 1024);

    [Fact]
    public void One_billion_parameters_in_fp32_with_Adam_hold_4_GB_weights_4_GB_gradients_8_GB_moments()
    {
        var m = MemoryPlan.Compute(Params(1e9), PrecisionMode.Fp32, ParallelSetup.Single, microBatch: 1, sequence: 1024);
        Assert.Equal(4e9, m.Weights);
        Assert.Equal(4e9, m.Gradients);
        Assert.Equal(8e9, m.Optimizer);
        Assert.Equal(0, m.MasterWeights);
        // The seed's table: about 24 GB once activations of a typical batch are added (≈ 8 bytes/parameter here at 2 × 1024).
        double total = MemoryPlan.Compute(Params(1e9), PrecisionMode.Fp32, ParallelSetup.Single, 2, 1024).Total;
        Assert.InRange(total / 1e9, 20, 28);
    }

    [Theory]
    // ZeRO paper (Rajbhandari et al. 2020), figure 1: Ψ = 7.5B, N_d = 64, K = 12 → 120, 31.4, 16.6 and 1.9 GB.
    [InlineData(ParallelStrategy.Ddp, 0, 120.0, 120e9)]
    [InlineData(ParallelStrategy.Ddp, 1, 31.4, 31.40625e9)]
    [InlineData(ParallelStrategy.Ddp, 2, 16.6, 16.640625e9)]
    [InlineData(ParallelStrategy.Fsdp, 3, 1.9, 1.875e9)]
    public void Mixed_precision_model_states_of_7_5B_parameters_on_64_GPUs_match_the_ZeRO_paper(ParallelStrategy strategy, int stage, double paperGb, double exactBytes)
    {
        var parallel = ParallelSetup.Create(strategy, 64, stage);
        var m = MemoryPlan.Compute(Params(7.5e9), PrecisionMode.Fp16, parallel, 1, 1024);
        Assert.Equal(exactBytes, m.ModelStates, exactBytes * 1e-12);
        Assert.Equal(paperGb, Math.Round(m.ModelStates / 1e9, 1));
    }

    [Fact]
    public void Bf16_is_16_bytes_per_parameter_split_2_2_8_4()
    {
        var m = MemoryPlan.Compute(Params(1e9), PrecisionMode.Bf16, ParallelSetup.Single, 1, 1024);
        Assert.Equal((2e9, 2e9, 8e9, 4e9), (m.Weights, m.Gradients, m.Optimizer, m.MasterWeights));
    }

    [Fact]
    public void Activations_are_the_engines_own_activation_plan_in_the_compute_precision()
    {
        var config = Presets.Get("gpt2-small");
        var shape = PlannedModel.FromConfig("gpt2-small", config);
        var fp32 = TransformerModel.PlanActivationsOf(config, 4, 512);
        var bf16 = TransformerModel.PlanActivationsOf(config, 4, 512, values: StorageFormat.Bf16);
        Assert.Equal(fp32.TotalBytes, MemoryPlan.Compute(shape, PrecisionMode.Fp32, ParallelSetup.Single, 4, 512).Activations);
        Assert.Equal(bf16.TotalBytes, MemoryPlan.Compute(shape, PrecisionMode.Bf16, ParallelSetup.Single, 4, 512).Activations);
        // Values take 2 bytes and statistics (means, 1/σ, log-sum-exp, losses) keep 4, each region 64-byte aligned.
        static long Aligned(long bytes) => (bytes + 63) / 64 * 64;
        Assert.Equal(fp32.Layout().Sum(r => Aligned(r.Count * 4)), fp32.TotalBytes);
        Assert.Equal(bf16.Layout().Sum(r => Aligned(r.Count * (r.Kind == ActivationKind.Statistic ? 4 : 2))), bf16.TotalBytes);
        Assert.InRange((double)bf16.TotalBytes / fp32.TotalBytes, 0.5, 0.51);
    }

    [Fact]
    public void The_largest_micro_batch_fits_and_one_more_does_not()
    {
        var shape = PlannedModel.FromConfig("gpt2-medium", Presets.Get("gpt2-medium"));
        long gpu = GpuCatalog.Resolve("v100").MemoryBytes;
        int b = MemoryPlan.LargestMicroBatch(shape, PrecisionMode.Fp16, ParallelSetup.Single, 1024, gpu);
        Assert.True(b > 0);
        // Judged on what the engine allocates: ZeRO's count plus its fp32 gradients.
        Assert.True(MemoryPlan.Compute(shape, PrecisionMode.Fp16, ParallelSetup.Single, b, 1024).EngineTotal <= gpu);
        Assert.True(MemoryPlan.Compute(shape, PrecisionMode.Fp16, ParallelSetup.Single, b + 1, 1024).EngineTotal > gpu);
        // 70B in mixed precision needs 1.12 TB of states: nothing fits on one GPU.
        Assert.Equal(0, MemoryPlan.LargestMicroBatch(Params(70e9), PrecisionMode.Bf16, ParallelSetup.Single, 1024, gpu));
    }

    [Fact]
    public void Cpu_offload_with_fsdp_moves_every_shard_to_the_host()
    {
        // What `--strategy fsdp --cpu-offload` runs (FSDP's offload of parameters): the parameter, gradient, moment
        // and master shards live in host memory; the GPU keeps only the units gathered for compute.
        var parallel = ParallelSetup.Create(ParallelStrategy.Fsdp, 8, cpuOffload: true);
        var m = MemoryPlan.Compute(Params(8e9), PrecisionMode.Bf16, parallel, 1, 1024);
        Assert.Equal((0.0, 0.0, 0.0, 0.0), (m.Weights, m.Gradients, m.Optimizer, m.MasterWeights));
        Assert.Equal((16 + 2) * 8e9 / 8, m.HostOffloaded); // ZeRO's 16 B/param and the engine's fp32 gradients' 2 more
        Assert.True(m.Temporaries > 0);
    }

    [Fact]
    public void Cpu_offload_with_zero_2_moves_optimizer_states_and_master_weights_to_the_host()
    {
        // ZeRO-Offload: the update runs on the CPU, half weights and gradients stay on the GPU.
        var parallel = ParallelSetup.Create(ParallelStrategy.Ddp, 8, zeroStage: 2, cpuOffload: true);
        var m = MemoryPlan.Compute(Params(8e9), PrecisionMode.Bf16, parallel, 1, 1024);
        Assert.Equal(0, m.Optimizer);
        Assert.Equal(0, m.MasterWeights);
        Assert.Equal(12 * 8e9 / 8, m.HostOffloaded);
        Assert.Equal(2 * 8e9, m.Weights);
        Assert.Equal(2 * 8e9 / 8, m.Gradients);
    }

    [Fact]
    public void Hybrid_sharding_divides_by_the_sharding_factor_not_the_GPU_count()
    {
        var parallel = ParallelSetup.Create(ParallelStrategy.Fsdp, 64, shardingFactor: 8);
        var m = MemoryPlan.Compute(Params(8e9), PrecisionMode.Bf16, parallel, 1, 1024);
        Assert.Equal(16 * 8e9 / 8, m.ModelStates, 1.0);
    }

    [Theory]
    [InlineData(ParallelStrategy.None, 8, null, null, EngineOption.Strategy, "Strategy none", "--strategy none")]
    [InlineData(ParallelStrategy.Ddp, 8, 3, null, EngineOption.ZeroStage, "ZeroStage 3", "--zero-stage 3")]
    [InlineData(ParallelStrategy.Fsdp, 8, 1, null, EngineOption.ZeroStage, "ZeroStage 1", "--zero-stage 1")]
    [InlineData(ParallelStrategy.Fsdp, 8, null, 3, EngineOption.ShardingFactor, "ShardingFactor 3", "--sharding-factor 3")]
    [InlineData(ParallelStrategy.Ddp, 8, null, 4, EngineOption.ShardingFactor, "ShardingFactor 4", "--sharding-factor 4")]
    public void Impossible_strategies_are_refused_with_the_option_to_change(ParallelStrategy strategy, int gpus, int? stage, int? factor, EngineOption option, string keyed, string flag)
    {
        var e = Assert.Throws<EngineException>(() => ParallelSetup.Create(strategy, gpus, stage, factor));
        Assert.Equal(option, e.Option);
        Assert.Contains(keyed, e.Message);
        Assert.Contains(flag, FlagNames.Render(e)); // what `trainer plan` prints
    }
}
