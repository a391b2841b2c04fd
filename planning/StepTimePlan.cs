using Engine.Precision;

namespace Engine.Planning;

/// <summary>The links between GPUs: within a node (NVLink) and between nodes (InfiniBand), per GPU and direction.</summary>
/// <param name="GpusPerNode">GPUs that share the fast intra-node links (8 on a DGX/HGX).</param>
/// <param name="IntraNodeBytesPerSecond">NVLink bandwidth per GPU per direction.</param>
/// <param name="InterNodeBytesPerSecond">Network bandwidth per GPU per direction (one NIC per GPU on DGX/HGX).</param>
public sealed record Interconnect(int GpusPerNode, double IntraNodeBytesPerSecond, double InterNodeBytesPerSecond)
{
    /// <summary>
    /// Typical HGX/DGX systems per GPU and direction (NVIDIA datasheets): V100 NVLink2 150 GB/s with 100 Gb/s EDR
    /// InfiniBand; A100 NVLink3 300 GB/s with 200 Gb/s HDR; H100/H200 NVLink4 450 GB/s with 400 Gb/s NDR.
    /// </summary>
    public static Interconnect For(GpuSpec gpu) => gpu.Name switch
    {
        "v100" => new(8, 150e9, 100e9 / 8),
        "a100" => new(8, 300e9, 200e9 / 8),
        "h100" or "h200" => new(8, 450e9, 400e9 / 8),
        _ => new(8, 300e9, 200e9 / 8),
    };
}

/// <summary>
/// Predicted time of one optimizer step per strategy, from the single-GPU compute, the bytes each GPU sends per
/// step and the link bandwidth. The model (written out in docs/planning.md):
/// <list type="bullet">
/// <item>compute = model FLOPs of the GPU's share of the global batch / (peak × MFU);</item>
/// <item>bytes sent per GPU, ring collectives over n ranks: DDP moves 2(n−1)/n of the gradients (an all-reduce),
/// ZeRO-1/2 (n−1)/n of the gradients and of the weights (a reduce-scatter, then an all-gather of the updated
/// weights); FSDP (ZeRO-3) moves (n−1)/n of the weights twice (all-gather before forward and again before backward)
/// and of the gradients once (reduce-scatter); with a sharding factor F &lt; n the sharded collectives run within
/// groups of F and the shards are then all-reduced across the n/F replicas, 2(r−1)/r of 1/F of the gradients;
/// gradients move in fp32 (as the engine holds them), gathered weights in the compute precision (FSDP gathers the
/// 16-bit copy of its shards under mixed precision);</item>
/// <item>bandwidth: a group within one node runs at NVLink speed, a group spanning nodes at the network's, both
/// derated by <see cref="LinkEfficiency"/>;</item>
/// <item>step time lies between max(compute, communication) (communication hidden behind compute, as bucketed DDP
/// and FSDP's prefetch aim for) and compute + communication (nothing hidden).</item>
/// </list>
/// Latency and the small collectives (loss, norms) are ignored: at these message sizes bandwidth dominates.
/// </summary>
public sealed record StepTimePlan(double ComputeSeconds, double CommunicationSeconds, double BytesSentPerGpu, double LinkBytesPerSecond, string LinkName)
{
    /// <summary>The fraction of a link's nominal bandwidth NCCL's ring collectives reach (bus bandwidth ≈ 80%).</summary>
    public const double LinkEfficiency = 0.8;

    public double OverlappedSeconds => Math.Max(ComputeSeconds, CommunicationSeconds);
    public double SerialSeconds => ComputeSeconds + CommunicationSeconds;

    public static StepTimePlan Create(PlannedModel model, PrecisionMode precision, ParallelSetup parallel, int globalBatch, int sequence,
        GpuSpec gpu, double mfu, Interconnect links)
    {
        int n = parallel.Gpus;
        double tokensPerGpu = (double)globalBatch * sequence / n;
        double compute = model.TrainingFlopsPerToken(sequence) * tokensPerGpu / (gpu.PeakFlops(precision) * mfu);
        double gradientBytes = PrecisionBytes.HeldGradient(precision), weightBytes = PrecisionBytes.Weight(precision);
        double parameters = model.Parameters;
        int group = Math.Min(parallel.ShardingFactor, n);
        int replicas = n / group;
        double Ring(int ranks, double factor) => ranks > 1 ? factor * (ranks - 1) / ranks : 0;
        double Link(int ranks) => (ranks > links.GpusPerNode ? links.InterNodeBytesPerSecond : links.IntraNodeBytesPerSecond) * LinkEfficiency;
        // Within a sharding group (all n GPUs without hybrid sharding): ZeRO-3 gathers the weights twice and
        // reduce-scatters the gradients once; ZeRO-1/2 reduce-scatter the gradients and all-gather the updated weights;
        // plain DDP all-reduces the gradients. Across the replicas of a hybrid setup: an all-reduce of the 1/F shard.
        double groupBytes = parallel.ZeroStage switch
        {
            3 => Ring(group, 1) * parameters * (2 * weightBytes + gradientBytes),
            1 or 2 => Ring(group, 1) * parameters * (gradientBytes + weightBytes),
            _ => Ring(group, 2) * parameters * gradientBytes,
        };
        double replicaBytes = Ring(replicas, 2) * parameters / group * gradientBytes;
        double seconds = (groupBytes > 0 ? groupBytes / Link(group) : 0) + (replicaBytes > 0 ? replicaBytes / Link(n) : 0);
        string Where(int ranks) => ranks > links.GpusPerNode ? "network" : "NVLink";
        string name = n == 1 ? "none"
            : groupBytes > 0 && replicaBytes > 0 && Where(group) != Where(n) ? $"{Where(group)} within groups of {group}, {Where(n)} across them"
            : Where(n) == "network" ? "network (between nodes)" : "NVLink (within a node)";
        return new StepTimePlan(compute, seconds, groupBytes + replicaBytes, Link(n), name);
    }
}
