using Engine.Precision;
namespace Engine.Planning;

/// <summary>What a plan is asked about. Tokens: given, or from a compute budget (C / 6N), or Chinchilla's 20 per parameter.</summary>
public sealed record PlanRequest
{
    public required PlannedModel Model { get; init; }
    public PrecisionMode Precision { get; init; } = PrecisionMode.Bf16;
    /// <summary>AdamW's moments: fp32, or 8-bit block-wise quantized.</summary>
    public Engine.Optim.OptimizerKind Optimizer { get; init; } = Engine.Optim.OptimizerKind.AdamW;
    public ParallelSetup Parallel { get; init; } = ParallelSetup.Single;
    public int MicroBatch { get; init; } = 8;
    /// <summary>Sequences per optimizer step over all GPUs; null = one micro-batch per GPU.</summary>
    public int? GlobalBatch { get; init; }
    public int Sequence { get; init; } = 1024;
    public double? Tokens { get; init; }
    public double? ComputeBudget { get; init; }
    public required GpuSpec Gpu { get; init; }
    public double Mfu { get; init; } = 0.4;
    public double? PricePerGpuHour { get; init; }
    public ChinchillaLaw Law { get; init; } = ChinchillaLaw.Epoch;
    /// <summary>Links between the GPUs; null = the GPU's typical HGX system (<see cref="Interconnect.For"/>).</summary>
    public Interconnect? Links { get; init; }
}

/// <summary>The Chinchilla view of the plan: how many tokens N deserves, and what the budget would buy.</summary>
public sealed record ChinchillaPlan(double RuleTokens, double FitTokens, double Budget, double OptimalParameters, double OptimalTokens, double OptimalLoss, double PredictedLoss);

/// <summary>A whole plan: memory per GPU, compute and time, Chinchilla's view.</summary>
public sealed record TrainingPlan(PlanRequest Request, MemoryBreakdown Memory, bool Fits, int LargestMicroBatch, int GlobalBatch, int AccumulationSteps,
    string TokensSource, ComputePlan Compute, ChinchillaPlan Chinchilla, StepTimePlan StepTime)
{
    public static TrainingPlan Create(PlanRequest r)
    {
        if (r.MicroBatch < 1) throw new EngineException(EngineOption.MicroBatch, $"{EngineOption.MicroBatch} must be 1 or more (got {r.MicroBatch})");
        if (r.Sequence < 1) throw new EngineException(EngineOption.SequenceLength, $"{EngineOption.SequenceLength} must be 1 or more (got {r.Sequence})");
        if (r.Sequence > r.Model.Config.MaxPositions)
            throw new EngineException(EngineOption.SequenceLength, $"{EngineOption.SequenceLength} {r.Sequence} exceeds the model's {r.Model.Config.MaxPositions} positions: lower {EngineOption.SequenceLength} (or give a shape with {EngineOption.Layers}/{EngineOption.Dim} and a longer {EngineOption.SequenceLength})");
        if (r.Tokens != null && r.ComputeBudget != null)
            throw new EngineException(EngineOption.Tokens, $"{EngineOption.Tokens} and {EngineOption.ComputeBudget} both fix the training length: give one of them");
        int replicas = r.Parallel.Gpus;
        int global = r.GlobalBatch ?? r.MicroBatch * replicas;
        if (global % (r.MicroBatch * replicas) != 0)
            throw new EngineException(EngineOption.GlobalBatch, $"{EngineOption.GlobalBatch} {global} is not a multiple of {EngineOption.MicroBatch} {r.MicroBatch} × {EngineOption.Gpus} {replicas} = {r.MicroBatch * replicas}: each GPU runs whole micro-batches (e.g. {EngineOption.GlobalBatch} {Math.Max(1, global / (r.MicroBatch * replicas)) * r.MicroBatch * replicas})");

        var memory = MemoryPlan.Compute(r.Model, r.Precision, r.Parallel, r.MicroBatch, r.Sequence, r.Optimizer);
        bool fits = memory.EngineTotal <= r.Gpu.MemoryBytes;
        int largest = MemoryPlan.LargestMicroBatch(r.Model, r.Precision, r.Parallel, r.Sequence, r.Gpu.MemoryBytes, r.Optimizer);

        double n = r.Model.Parameters;
        double ruleTokens = ChinchillaLaw.TokensPerParameterRule * n;
        var (tokens, source) = r.Tokens is double t ? (t, "given")
            : r.ComputeBudget is double c ? (c / (6 * n), "from the compute budget (C / 6N)")
            : (ruleTokens, "not given: Chinchilla's 20 tokens per parameter");
        var compute = ComputePlan.Create(r.Model, tokens, r.Sequence, r.Gpu, r.Precision, r.Mfu, replicas, r.PricePerGpuHour);
        double budget = r.ComputeBudget ?? compute.Flops;
        var (nOpt, dOpt) = r.Law.Optimal(budget);
        var chinchilla = new ChinchillaPlan(ruleTokens, r.Law.OptimalTokensFor(n), budget, nOpt, dOpt, r.Law.Loss(nOpt, dOpt), r.Law.Loss(n, tokens));
        var stepTime = StepTimePlan.Create(r.Model, r.Precision, r.Parallel, global, r.Sequence, r.Gpu, r.Mfu, r.Links ?? Interconnect.For(r.Gpu));
        return new TrainingPlan(r, memory, fits, largest, global, global / (r.MicroBatch * replicas), source, compute, chinchilla, stepTime);
    }
}
