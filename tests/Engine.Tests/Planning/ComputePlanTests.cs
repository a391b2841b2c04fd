using Trainer.Cli;
using Engine.Precision;
using Engine.Models;
using Engine.Planning;

namespace Engine.Tests.Planning;

public class ComputePlanTests
{
    [Fact]
    public void Gpt2_small_counts_its_own_matrix_products_and_attention()
    {
        var shape = PlannedModel.FromConfig("gpt2-small", Presets.Get("gpt2-small"));
        Assert.Equal(124_439_808, shape.Parameters);
        // Token table as the output head (50257 × 768) and per layer 768 × (2304 + 768 + 3072) + 3072 × 768, times 12.
        double matrices = 50257.0 * 768 + 12 * (768.0 * 9216);
        double forward = 2 * matrices + 4.0 * 12 * 1024 * 768;
        Assert.Equal(3 * forward, shape.TrainingFlopsPerToken(1024));
    }

    [Fact]
    public void Flops_petaflop_days_gpu_hours_and_cost_follow_from_six_N_D()
    {
        var shape = PlannedModel.FromConfig("gpt2-small", Presets.Get("gpt2-small"));
        var gpu = GpuCatalog.Resolve("a100");
        var plan = ComputePlan.Create(shape, 10e9, 1024, gpu, PrecisionMode.Bf16, mfu: 0.5, gpus: 8, pricePerGpuHour: 2);
        Assert.Equal(6.0 * 124_439_808 * 10e9, plan.Flops);
        Assert.Equal(plan.Flops / 8.64e19, plan.PetaflopDays);
        Assert.Equal(shape.TrainingFlopsPerToken(1024) * 10e9 / (312e12 * 0.5) / 3600, plan.GpuHours, 1e-9);
        Assert.Equal(plan.GpuHours / 8 / 24, plan.Days, 1e-12);
        Assert.Equal(2 * plan.GpuHours, plan.Cost!.Value, 1e-9);
    }

    [Fact]
    public void The_gpu_catalog_holds_the_dense_datasheet_peaks()
    {
        Assert.Equal(125e12, GpuCatalog.Resolve("v100").PeakFlops(PrecisionMode.Fp16));
        Assert.Equal(15.7e12, GpuCatalog.Resolve("v100").PeakFlops(PrecisionMode.Fp32));
        Assert.Equal(312e12, GpuCatalog.Resolve("a100").PeakFlops(PrecisionMode.Bf16));
        Assert.Equal(989e12, GpuCatalog.Resolve("h100").PeakFlops(PrecisionMode.Bf16));
        Assert.Equal(989e12, GpuCatalog.Resolve("h200").PeakFlops(PrecisionMode.Bf16));
        Assert.Equal(80L << 30, GpuCatalog.Resolve("h100").MemoryBytes);
        Assert.Equal(141L << 30, GpuCatalog.Resolve("h200").MemoryBytes);
        Assert.Equal(40L << 30, GpuCatalog.Resolve("a100", 40).MemoryBytes);
        var noBf16 = Assert.Throws<EngineException>(() => GpuCatalog.Resolve("v100").PeakFlops(PrecisionMode.Bf16));
        Assert.Equal(EngineOption.Precision, noBf16.Option);
        Assert.Contains("--precision fp16", FlagNames.Render(noBf16));
        var noMemory = Assert.Throws<EngineException>(() => GpuCatalog.Resolve("400"));
        Assert.Equal(EngineOption.GpuMemory, noMemory.Option);
        Assert.Contains("--gpu-memory", FlagNames.Render(noMemory));
        Assert.Equal(400e12, GpuCatalog.Resolve("400", 96).PeakFlops(PrecisionMode.Bf16));
    }

    [Theory]
    [InlineData("7.5B", 7.5e9)]
    [InlineData("124M", 124e6)]
    [InlineData("1.4T", 1.4e12)]
    [InlineData("2e9", 2e9)]
    public void Counts_read_with_suffixes(string text, double value) => Assert.Equal(value, Quantity.ParseCount(text, EngineOption.Parameters), value * 1e-15);

    [Fact]
    public void Budgets_read_as_flops_or_petaflop_days()
    {
        Assert.Equal(1e21, Quantity.ParseFlops("1e21", EngineOption.ComputeBudget));
        Assert.Equal(3.5 * 8.64e19, Quantity.ParseFlops("3.5pf-days", EngineOption.ComputeBudget), 1e6);
        var budget = Assert.Throws<EngineException>(() => Quantity.ParseFlops("lots", EngineOption.ComputeBudget));
        Assert.Equal(EngineOption.ComputeBudget, budget.Option);
        Assert.Contains("--compute-budget", FlagNames.Render(budget));
        var count = Assert.Throws<EngineException>(() => Quantity.ParseCount("7Q", EngineOption.Parameters));
        Assert.Equal(EngineOption.Parameters, count.Option);
        Assert.Contains("--params", FlagNames.Render(count));
    }

    [Fact]
    public void An_assumed_shape_lands_near_the_parameter_count_asked_for()
    {
        foreach (double n in new[] { 1e9, 7e9, 70e9 })
        {
            var shape = PlannedModel.ForParameters((long)n, PlannedModel.Gpt2Vocab, 2048);
            double built = TransformerModel.LayoutOf(shape.Config).Count;
            Assert.InRange(built / n, 0.9, 1.1);
        }
    }
}
