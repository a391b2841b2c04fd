using Engine.Distributed;
using Engine.Models;
using Engine.Planning;
using Engine.Precision;

namespace Engine.Tests.Planning;

/// <summary>The step-time model of docs/planning.md, checked term by term on GPT-2 1.5B (gpt2-xl) with H100 links. The
/// run is bf16: gradients move in fp32 (4 bytes, as the engine holds them), FSDP's weight gathers in bf16 (2).</summary>
public class StepTimePlanTests
{
    static readonly PlannedModel Xl = PlannedModel.FromConfig("gpt2-xl", Presets.Get("gpt2-xl"));
    static readonly GpuSpec H100 = GpuCatalog.Resolve("h100");
    static readonly Interconnect Links = Interconnect.For(H100);
    static double P => Xl.Parameters;

    static StepTimePlan Plan(ParallelSetup parallel, int globalBatch) =>
        StepTimePlan.Create(Xl, PrecisionMode.Bf16, parallel, globalBatch, 1024, H100, 0.4, Links);

    [Fact]
    public void One_GPU_only_computes()
    {
        var plan = Plan(ParallelSetup.Single, 8);
        double expected = Xl.TrainingFlopsPerToken(1024) * 8 * 1024 / (989e12 * 0.4);
        Assert.Equal(expected, plan.ComputeSeconds, 1e-9);
        Assert.Equal(0, plan.CommunicationSeconds);
        Assert.Equal(plan.ComputeSeconds, plan.SerialSeconds);
    }

    [Fact]
    public void DDP_within_a_node_all_reduces_the_fp32_gradients_over_NVLink()
    {
        var plan = Plan(ParallelSetup.Create(ParallelStrategy.Ddp, 8), 64);
        double bytes = 2.0 * 7 / 8 * P * 4;
        Assert.Equal(bytes, plan.BytesSentPerGpu, 1e-3);
        Assert.Equal(bytes / (450e9 * 0.8), plan.CommunicationSeconds, 1e-9);
        Assert.Equal(Plan(ParallelSetup.Single, 8).ComputeSeconds, plan.ComputeSeconds, 1e-9); // 8 sequences per GPU either way
    }

    [Fact]
    public void ZeRO_2_reduce_scatters_fp32_gradients_and_gathers_the_bf16_weights()
    {
        var plan = Plan(ParallelSetup.Create(ParallelStrategy.Ddp, 8, zeroStage: 2), 64);
        Assert.Equal(7.0 / 8 * P * (4 + 2), plan.BytesSentPerGpu, 1e-3);
    }

    [Fact]
    public void FSDP_gathers_the_weights_twice_and_scatters_the_gradients_once_at_network_speed_across_nodes()
    {
        var plan = Plan(ParallelSetup.Create(ParallelStrategy.Fsdp, 64), 512);
        double bytes = 63.0 / 64 * P * (2 * 2 + 4); // two bf16 gathers, one fp32 reduce-scatter
        Assert.Equal(bytes, plan.BytesSentPerGpu, 1e-3);
        Assert.Equal(bytes / (400e9 / 8 * 0.8), plan.CommunicationSeconds, 1e-9);
        Assert.True(plan.OverlappedSeconds < plan.SerialSeconds);
    }

    [Fact]
    public void Hybrid_sharding_keeps_the_heavy_traffic_on_NVLink()
    {
        var hybrid = Plan(ParallelSetup.Create(ParallelStrategy.Fsdp, 64, shardingFactor: 8), 512);
        double inGroup = 7.0 / 8 * P * (2 * 2 + 4), across = 2.0 * 7 / 8 * P / 8 * 4;
        Assert.Equal(inGroup + across, hybrid.BytesSentPerGpu, 1e-3);
        Assert.Equal(inGroup / (450e9 * 0.8) + across / (50e9 * 0.8), hybrid.CommunicationSeconds, 1e-9);
        Assert.True(hybrid.CommunicationSeconds < Plan(ParallelSetup.Create(ParallelStrategy.Fsdp, 64), 512).CommunicationSeconds / 3);
    }
}
