using Engine.Distributed;

namespace Engine.Planning;

/// <summary>
/// The strategy and its ZeRO stage (Rajbhandari et al. 2020): stage 0 replicates everything (plain DDP); stage 1
/// shards optimizer states (and the fp32 master weights, which live with them); stage 2 also gradients; stage 3 also
/// the weights. The ddp strategy is stage 0, or 1/2 with a ZeRO stage given (DDP with a sharded optimizer, like
/// DeepSpeed ZeRO-1/2); the fsdp strategy is stage 3 (FULL_SHARD), or 2 with stage 2 given (FSDP's
/// SHARD_GRAD_OP). Sharding happens within groups of `ShardingFactor` GPUs (FSDP's hybrid sharding); groups replicate.
/// </summary>
public sealed record ParallelSetup(ParallelStrategy Strategy, int ZeroStage, int Gpus, int ShardingFactor, bool CpuOffload)
{
    public static readonly ParallelSetup Single = new(ParallelStrategy.None, 0, 1, 1, false);

    /// <summary>Checks the combination and fills defaults (stage from the strategy, sharding over all GPUs).</summary>
    public static ParallelSetup Create(ParallelStrategy strategy, int gpus, int? zeroStage = null, int? shardingFactor = null, bool cpuOffload = false)
    {
        const EngineOption Gpus = EngineOption.Gpus, Strategy = EngineOption.Strategy, ZeroStage = EngineOption.ZeroStage, ShardingFactor = EngineOption.ShardingFactor;
        if (gpus < 1) throw new EngineException(Gpus, $"{Gpus} must be 1 or more (got {gpus})");
        if (strategy == ParallelStrategy.None && gpus > 1)
            throw new EngineException(Strategy, $"{Strategy} none trains on one GPU, but {Gpus} is {gpus}: use {Strategy} ddp or fsdp to spread over {gpus} GPUs");
        int stage = zeroStage ?? (strategy == ParallelStrategy.Fsdp ? 3 : 0);
        switch (strategy)
        {
            case ParallelStrategy.None when stage != 0:
                throw new EngineException(ZeroStage, $"{ZeroStage} {stage} needs several GPUs: use {Strategy} ddp (stages 1, 2) or fsdp (2, 3) with {Gpus}");
            case ParallelStrategy.Ddp when stage is < 0 or > 2:
                throw new EngineException(ZeroStage, $"{ZeroStage} {stage} with {Strategy} ddp: DDP shards at most optimizer states and gradients (0, 1 or 2); use {Strategy} fsdp for stage 3");
            case ParallelStrategy.Fsdp when stage is not (2 or 3):
                throw new EngineException(ZeroStage, $"{ZeroStage} {stage} with {Strategy} fsdp: FSDP shards gradients and weights (2 = SHARD_GRAD_OP, 3 = FULL_SHARD); use {Strategy} ddp for stages 0 and 1");
        }
        int factor = shardingFactor ?? gpus;
        if (factor < 1 || factor > gpus || gpus % factor != 0)
            throw new EngineException(ShardingFactor, $"{ShardingFactor} {factor} must divide {Gpus} {gpus} (shards live in groups of that many GPUs; e.g. {ShardingFactor} {gpus})");
        if (stage == 0 && shardingFactor is int f && f != 1 && gpus > 1)
            throw new EngineException(ShardingFactor, $"{ShardingFactor} {f} has nothing to shard with plain DDP: add {ZeroStage} 1 or 2, or use {Strategy} fsdp");
        return new ParallelSetup(strategy, stage, gpus, stage == 0 ? 1 : factor, cpuOffload);
    }

    public string Describe() => Strategy switch
    {
        ParallelStrategy.None => "single GPU",
        ParallelStrategy.Ddp when ZeroStage == 0 => $"DDP over {Gpus} GPUs (everything replicated)",
        ParallelStrategy.Ddp => $"DDP + ZeRO-{ZeroStage} over {Gpus} GPUs (sharded {ShardingFactor} ways)",
        _ => $"FSDP ({(ZeroStage == 3 ? "FULL_SHARD, ZeRO-3" : "SHARD_GRAD_OP, ZeRO-2")}) over {Gpus} GPUs (sharded {ShardingFactor} ways)",
    } + (!CpuOffload ? "" : ZeroStage >= 3 ? ", shards and optimizer offloaded to CPU" : ", optimizer offloaded to CPU");
}
