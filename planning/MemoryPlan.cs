using Engine.Tensors;
using Engine.Precision;
using Engine.Models;

namespace Engine.Planning;

/// <summary>
/// Bytes one GPU holds, by component. Sharded components are already divided by the sharding factor. The model states
/// are ZeRO's accounting (so the paper's figures reproduce); <see cref="EngineFp32GradientExtra"/> is what this engine
/// holds beyond it (its fp32 gradients under mixed precision), and <see cref="EngineTotal"/> what it allocates.
/// </summary>
public sealed record MemoryBreakdown(double Weights, double Gradients, double Optimizer, double MasterWeights, double Activations, double Temporaries, double HostOffloaded,
    double EngineFp32GradientExtra = 0)
{
    /// <summary>Weights, gradients, optimizer states and master weights: what ZeRO's model-state figures count.</summary>
    public double ModelStates => Weights + Gradients + Optimizer + MasterWeights;
    public double Total => ModelStates + Activations + Temporaries;
    /// <summary>What this engine allocates: <see cref="Total"/> and its fp32 gradients beyond ZeRO's count. Whether a
    /// run fits is judged on this.</summary>
    public double EngineTotal => Total + EngineFp32GradientExtra;
}

/// <summary>
/// Memory per GPU for training a model: model states from bytes per parameter (<see cref="PrecisionBytes"/>) and
/// the ZeRO stage, activations from the engine's own <see cref="Engine.Tensors.ActivationPlan"/> for the micro-batch.
/// Mixed precision is ZeRO's K = 12 case: 2 bytes of half weights + 2 of half gradients + 12 of fp32 Adam m, v and
/// master copy = 16 bytes per parameter.
/// </summary>
public static class MemoryPlan
{
    /// <summary>The micro-batch search stops here: B·T must stay within the engine's int row counts.</summary>
    public const int MaxMicroBatchSearched = 1 << 16;

    /// <param name="optimizerKind">AdamW's moments: fp32 (<see cref="PrecisionBytes.Optimizer"/> bytes per parameter) or 8-bit
    /// (<see cref="EightBitOptimizerBytes"/>).</param>
    public static MemoryBreakdown Compute(PlannedModel model, PrecisionMode precision, ParallelSetup parallel, int microBatch, int sequence,
        Engine.Optim.OptimizerKind optimizerKind = Engine.Optim.OptimizerKind.AdamW)
    {
        double n = model.Parameters;
        double shards = parallel.ShardingFactor;
        int stage = parallel.ZeroStage;
        double weights = n * PrecisionBytes.Weight(precision) / (stage >= 3 ? shards : 1);
        double gradients = n * PrecisionBytes.Gradient(precision) / (stage >= 2 ? shards : 1);
        double optimizerStates = optimizerKind == Engine.Optim.OptimizerKind.AdamW8Bit ? EightBitOptimizerBytes(model) : n * PrecisionBytes.Optimizer(precision);
        double optimizer = optimizerStates / (stage >= 1 ? shards : 1);
        double master = n * PrecisionBytes.Master(precision) / (stage >= 1 ? shards : 1);
        double offloaded = 0;
        if (parallel.CpuOffload)
        {
            // ZeRO-Offload: the update runs on the CPU, so Adam's moments and the fp32 master copy live in host memory;
            // half weights and gradients stay on the GPU for forward and backward.
            offloaded = optimizer + master;
            optimizer = master = 0;
            if (stage >= 3)
            {
                // FSDP's offload (what the fsdp strategy with CPU offload runs) keeps the parameter and gradient shards on
                // the host too: the GPU holds only the units gathered for compute (temporaries).
                // (with the engine's fp32 gradients there: EngineFp32GradientExtraBytes counts them for the GPU otherwise)
                offloaded += weights + gradients + Fp32GradientExtra(model, precision) / shards;
                weights = gradients = 0;
            }
        }
        return new MemoryBreakdown(weights, gradients, optimizer, master,
            ActivationBytes(model.Config, precision, microBatch, sequence),
            TemporaryBytes(model, precision, parallel, microBatch, sequence), offloaded,
            EngineFp32GradientExtraBytes(model, precision, parallel));
    }

    /// <summary>
    /// What this engine holds on the GPU beyond ZeRO's accounting (the rows above): under mixed precision it keeps
    /// gradients in fp32 (<see cref="PrecisionBytes.HeldGradient"/>), 2 bytes per parameter more than ZeRO's
    /// half-precision gradients, sharded as the gradients are (and on the host with FSDP's CPU offload).
    /// </summary>
    public static double EngineFp32GradientExtraBytes(PlannedModel model, PrecisionMode precision, ParallelSetup parallel)
    {
        double extra = Fp32GradientExtra(model, precision);
        if (extra == 0 || parallel.CpuOffload && parallel.ZeroStage >= 3) return 0;
        return parallel.ZeroStage >= 2 ? extra / parallel.ShardingFactor : extra;
    }

    /// <summary>The engine's fp32 gradients beyond ZeRO's count, for the whole model (unsharded).</summary>
    static double Fp32GradientExtra(PlannedModel model, PrecisionMode precision) =>
        model.Parameters * (PrecisionBytes.HeldGradient(precision) - PrecisionBytes.Gradient(precision));

    /// <summary>The engine's activation arena for this micro-batch: values in the precision's storage, statistics fp32.</summary>
    public static double ActivationBytes(TransformerConfig config, PrecisionMode precision, int microBatch, int sequence) =>
        TransformerModel.PlanActivationsOf(config, microBatch, sequence, values: HalfStorage.ForValues(precision)).TotalBytes;

    /// <summary>
    /// Buffers outside the arena: the micro-batch's token ids and targets (int32, as the engine allocates them); under
    /// ZeRO-3 what the engine's FSDP holds by default: three units gathered in full (the one computing, one it reads
    /// from such as a tied table, and the next one gathered ahead) and three units' full gradients (two open, one
    /// being reduce-scattered); under ZeRO-2 one unit's full gradient bucket. Gathered weights in the compute precision
    /// (FSDP gathers the 16-bit copy of its shards under mixed precision), gradients in fp32 as the engine holds them.
    /// </summary>
    public static double TemporaryBytes(PlannedModel model, PrecisionMode precision, ParallelSetup parallel, int microBatch, int sequence)
    {
        double bytes = 2.0 * microBatch * sequence * sizeof(int);
        if (parallel.ShardingFactor > 1 && parallel.ZeroStage >= 2)
        {
            double unit = model.LargestUnitParameters;
            // ZeRO-3 as the engine's FSDP runs it by default: FsdpOptions.UnitsInFlight units' parameters gathered and
            // as many units' gradients open (an op may read two units, as BERT's tied head does), plus one of each in
            // flight with overlap (the next unit gathered ahead, the last one's reduce-scatter).
            var fsdp = new Distributed.FsdpOptions();
            int units = fsdp.UnitsInFlight + (fsdp.Overlap ? 1 : 0);
            double gradient = PrecisionBytes.HeldGradient(precision);
            if (parallel.ZeroStage >= 3) bytes += units * unit * (PrecisionBytes.Weight(precision) + gradient);
            else bytes += unit * gradient;
        }
        return bytes;
    }

    /// <summary>The largest micro-batch whose engine total fits in the GPU's memory (0 when not even one sequence fits).</summary>
    public static int LargestMicroBatch(PlannedModel model, PrecisionMode precision, ParallelSetup parallel, int sequence, long gpuBytes,
        Engine.Optim.OptimizerKind optimizerKind = Engine.Optim.OptimizerKind.AdamW)
    {
        bool Fits(int b) => Compute(model, precision, parallel, b, sequence, optimizerKind).EngineTotal <= gpuBytes;
        if (!Fits(1)) return 0;
        int high = Math.Max(1, Math.Min(MaxMicroBatchSearched, int.MaxValue / 8 / sequence));
        if (Fits(high)) return high;
        int low = 1; // Fits(low) and !Fits(high) hold throughout: memory grows with the micro-batch
        while (high - low > 1)
        {
            int mid = low + (high - low) / 2;
            if (Fits(mid)) low = mid; else high = mid;
        }
        return low;
    }

    /// <summary>
    /// 8-bit AdamW's state for the whole model (<see cref="Engine.Optim.BlockwiseMoments"/>), counted over the model's
    /// own tensors: 2 bytes per element of a tensor with ≥ 4096 elements (one code per moment) plus 8 bytes per block
    /// of 2048 (one fp32 absmax per moment), 8 bytes per element of smaller tensors (fp32 moments), and the two
    /// 256-entry maps. With only a parameter count (a GPT shape assumed) the same sum runs over the assumed shape's
    /// tensors, scaled to the count. Sharded, it is divided by the shards: an FSDP rank's pieces may split a block in
    /// two, adding at most 8 bytes per piece, which this leaves out.
    /// </summary>
    public static double EightBitOptimizerBytes(PlannedModel model)
    {
        var layout = TransformerModel.LayoutOf(model.Config);
        double bytes = 0;
        foreach (var t in layout.Tensors)
            bytes += t.Count >= Engine.Optim.BlockwiseMoments.MinQuantizedTensor
                ? 2.0 * t.Count + 8.0 * ((t.Count + Engine.Backends.Cpu.Ops.AdamW8Bit.BlockSize - 1) / Engine.Backends.Cpu.Ops.AdamW8Bit.BlockSize)
                : 8.0 * t.Count;
        if (model.ShapeAssumed && layout.Count > 0) bytes *= (double)model.Parameters / layout.Count;
        return bytes + 2.0 * Engine.Backends.Cpu.Ops.DynamicQuantizationMap.Size * sizeof(float);
    }
}
