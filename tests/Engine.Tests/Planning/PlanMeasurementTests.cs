using Engine.Precision;
using Engine.Backends.Cpu;
using Engine.Models;
using Engine.Optim;
using Engine.Planning;
using Engine.Tests.Support;
using Engine.Tests.Training;
using Engine.Training;
using Engine.Util;

namespace Engine.Tests.Planning;

/// <summary>The plan is checked against what the engine really allocates when it trains.</summary>
public class PlanMeasurementTests
{
    static TransformerConfig Small(int layers, int dim, int heads, int positions) => Presets.Get("gpt2-tiny") with
    {
        Layers = layers, Dim = dim, Heads = heads, FeedForwardDim = 4 * dim, MaxPositions = positions,
    };

    /// <summary>A few optimizer steps on random tokens: everything training allocates has been allocated.</summary>
    static void Train(TransformerModel model, int B, int T, int steps)
    {
        var optimizer = model.CreateOptimizer(new AdamWSettings());
        var rng = new Rng(2);
        var tokens = new int[B * T]; var targets = new int[B * T];
        for (int step = 0; step < steps; step++)
        {
            for (int i = 0; i < tokens.Length; i++) { tokens[i] = rng.NextInt(model.Config.VocabSize); targets[i] = rng.NextInt(model.Config.VocabSize); }
            model.ZeroGradients();
            model.Forward(tokens, targets, B, T, 1f / (B * T));
            model.Backward();
            optimizer.Update(1e-3f);
        }
    }

    [Theory]
    [InlineData(2, 64, 4, 4, 32)]
    [InlineData(3, 96, 3, 2, 64)]
    public void Planned_bytes_match_what_training_allocates(int layers, int dim, int heads, int B, int T)
    {
        var config = Small(layers, dim, heads, T);
        using var backend = new CpuBackend();
        var model = new TransformerModel(config, backend);
        Initialization.InitializeGpt2(model, new Rng(1));
        Train(model, B, T, steps: 3);
        var measured = backend.BytesByPurpose();
        var plan = MemoryPlan.Compute(PlannedModel.FromConfig("small", config), PrecisionMode.Fp32, ParallelSetup.Single, B, T);

        Assert.Equal(plan.Weights, measured["parameters"]);
        Assert.Equal(plan.Gradients, measured["gradients"]);
        Assert.Equal(plan.Optimizer, measured["AdamW first moments"] + measured["AdamW second moments"]);
        double activations = measured[$"activations for micro-batch {B} × {T}"];
        Assert.InRange(plan.Activations / activations, 0.9, 1.1);
        Assert.Equal(plan.Temporaries, measured["token ids"] + measured["targets"]);
        Assert.Equal(plan.Total, backend.PeakAllocatedBytes, plan.Total * 0.1);
    }

    /// <summary>
    /// Mixed precision: the 16-bit weight copy, fp32 master weights and Adam moments to the byte; gradients are what
    /// ZeRO's accounting counts (2 B/param) plus the extra the plan reports for this engine's fp32 gradients.
    /// </summary>
    [Theory]
    [InlineData(PrecisionMode.Bf16)]
    [InlineData(PrecisionMode.Fp16)]
    public void Under_mixed_precision_the_plan_and_its_fp32_gradient_extra_are_what_training_allocates(PrecisionMode precision)
    {
        const int B = 4, T = 32;
        var config = Small(2, 64, 4, T);
        using var cpu = new CpuBackend();
        using var model = new TransformerModel(config, new Engine.Backends.Mixed.MixedPrecisionBackend(cpu, precision));
        Initialization.InitializeGpt2(model, new Rng(1));
        Train(model, B, T, steps: 1);
        var measured = cpu.BytesByPurpose();
        var planned = PlannedModel.FromConfig("small", config);
        var plan = MemoryPlan.Compute(planned, precision, ParallelSetup.Single, B, T);

        Assert.Equal(plan.Weights, measured["parameters (16-bit compute copy)"]);
        Assert.Equal(plan.MasterWeights, measured["master weights"]);
        Assert.Equal(plan.Optimizer, measured["AdamW first moments"] + measured["AdamW second moments"]);
        Assert.Equal(plan.Gradients + plan.EngineFp32GradientExtra, measured["gradients"]);
        Assert.InRange(plan.Activations / measured[$"activations for micro-batch {B} × {T}"], 0.9, 1.1);
    }

    /// <summary>With quantization-aware training the arena also holds the shared fake-quantized copies, int8 levels and
    /// int32 products (integer regions, counted in bytes), and the plan counts them from the same code.</summary>
    [Theory]
    [InlineData(null)]
    [InlineData("w8a8")]
    [InlineData("w4")]
    public void A_training_job_allocates_what_the_plan_says(string? qat)
    {
        using var folder = new TempFolder();
        var options = SmallRuns.Options(folder["run"], steps: 2) with { Qat = qat == null ? null : Engine.Tensors.QuantizationScheme.Parse(qat) };
        using var run = TrainingJob.Prepare(options);
        run.Loop.Run();
        var measured = ((CpuBackend)run.Backend).BytesByPurpose();
        var s = options.Settings;
        var plan = MemoryPlan.Compute(PlannedModel.FromConfig("run", run.Model.Config), PrecisionMode.Fp32, ParallelSetup.Single, s.MicroBatch, s.SequenceLength);
        Assert.Equal(plan.Weights, measured["parameters"]);
        Assert.Equal(plan.Gradients, measured["gradients"]);
        Assert.Equal(plan.Optimizer, measured["AdamW first moments"] + measured["AdamW second moments"]);
        Assert.InRange(plan.Activations / measured[$"activations for micro-batch {s.MicroBatch} × {s.SequenceLength}"], 0.9, 1.1);
        Assert.Equal(plan.Total, run.Backend.PeakAllocatedBytes, plan.Total * 0.1);
        var regions = TransformerModel.PlanActivationsOf(run.Model.Config, s.MicroBatch, s.SequenceLength).Layout();
        Assert.Equal(qat != null, regions.Any(r => r.Kind == Engine.Tensors.ActivationKind.Integers));
    }
}
