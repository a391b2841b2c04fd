namespace Engine.Planning;

/// <summary>How model states spread over data-parallel GPUs.</summary>
public enum Strategy { None, Ddp, Fsdp }

/// <summary>
/// The strategy and its ZeRO stage (Rajbhandari et al. 2020): stage 0 replicates everything (plain DDP); stage 1
/// shards optimizer states (and the fp32 master weights, which live with them); stage 2 also gradients; stage 3 also
/// the weights. `--strategy ddp` is stage 0, or 1/2 with `--zero-stage` (DDP with a sharded optimizer, like
/// DeepSpeed ZeRO-1/2); `--strategy fsdp` is stage 3 (FULL_SHARD), or 2 with `--zero-stage 2` (FSDP's
/// SHARD_GRAD_OP). Sharding happens within groups of `ShardingFactor` GPUs (FSDP's hybrid sharding); groups replicate.
/// </summary>
public sealed record ParallelSetup(Strategy Strategy, int ZeroStage, int Gpus, int ShardingFactor, bool CpuOffload)
{
    public static readonly ParallelSetup Single = new(Strategy.None, 0, 1, 1, false);

    public static Strategy ParseStrategy(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" => Strategy.None,
        "ddp" => Strategy.Ddp,
        "fsdp" => Strategy.Fsdp,
        _ => throw new EngineException($"--strategy {text}: choose none, ddp or fsdp"),
    };

    /// <summary>Checks the combination and fills defaults (stage from the strategy, sharding over all GPUs).</summary>
    public static ParallelSetup Create(Strategy strategy, int gpus, int? zeroStage = null, int? shardingFactor = null, bool cpuOffload = false)
    {
        if (gpus < 1) throw new EngineException($"--gpus must be 1 or more (got {gpus})");
        if (strategy == Strategy.None && gpus > 1)
            throw new EngineException($"--strategy none trains on one GPU, but --gpus is {gpus}: use --strategy ddp or fsdp to spread over {gpus} GPUs");
        int stage = zeroStage ?? (strategy == Strategy.Fsdp ? 3 : 0);
        switch (strategy)
        {
            case Strategy.None when stage != 0:
                throw new EngineException($"--zero-stage {stage} needs several GPUs: use --strategy ddp (stages 1, 2) or fsdp (2, 3) with --gpus");
            case Strategy.Ddp when stage is < 0 or > 2:
                throw new EngineException($"--zero-stage {stage} with --strategy ddp: DDP shards at most optimizer states and gradients (0, 1 or 2); use --strategy fsdp for stage 3");
            case Strategy.Fsdp when stage is not (2 or 3):
                throw new EngineException($"--zero-stage {stage} with --strategy fsdp: FSDP shards gradients and weights (2 = SHARD_GRAD_OP, 3 = FULL_SHARD); use --strategy ddp for stages 0 and 1");
        }
        int factor = shardingFactor ?? gpus;
        if (factor < 1 || factor > gpus || gpus % factor != 0)
            throw new EngineException($"--sharding-factor {factor} must divide --gpus {gpus} (shards live in groups of that many GPUs; e.g. --sharding-factor {gpus})");
        if (stage == 0 && shardingFactor is int f && f != 1 && gpus > 1)
            throw new EngineException($"--sharding-factor {f} has nothing to shard with plain DDP: add --zero-stage 1 or 2, or use --strategy fsdp");
        return new ParallelSetup(strategy, stage, gpus, stage == 0 ? 1 : factor, cpuOffload);
    }

    public string Describe() => Strategy switch
    {
        Strategy.None => "single GPU",
        Strategy.Ddp when ZeroStage == 0 => $"DDP over {Gpus} GPUs (everything replicated)",
        Strategy.Ddp => $"DDP + ZeRO-{ZeroStage} over {Gpus} GPUs (sharded {ShardingFactor} ways)",
        _ => $"FSDP ({(ZeroStage == 3 ? "FULL_SHARD, ZeRO-3" : "SHARD_GRAD_OP, ZeRO-2")}) over {Gpus} GPUs (sharded {ShardingFactor} ways)",
    } + (!CpuOffload ? "" : ZeroStage >= 3 ? ", shards and optimizer offloaded to CPU" : ", optimizer offloaded to CPU");
}
