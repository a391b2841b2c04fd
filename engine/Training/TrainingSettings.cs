using Engine.Optim;
using Engine.Precision;

namespace Engine.Training;

/// <summary>How to train: the schedule, the batch and the bookkeeping. Saved in every checkpoint.</summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record TrainingSettings
{
    public int Steps { get; init; } = 1000;
    /// <summary>Sequences per optimizer step (the global batch, whatever the device count).</summary>
    public int GlobalBatch { get; init; } = 16;
    /// <summary>Sequences per forward/backward; GlobalBatch / MicroBatch micro-steps accumulate into one update.</summary>
    public int MicroBatch { get; init; } = 16;
    public int SequenceLength { get; init; } = 128;
    public float LearningRate { get; init; } = 3e-3f;
    /// <summary>Cosine decay ends at LearningRate × this ratio.</summary>
    public float MinLearningRateRatio { get; init; } = 0.1f;
    public int WarmupSteps { get; init; } = 50;
    public AdamWSettings AdamW { get; init; } = new();
    public double ClipNorm { get; init; } = 1.0;
    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 8;
    /// <summary>0 = only at the end (and on Ctrl-C).</summary>
    public int CheckpointEvery { get; init; } = 0;
    /// <summary>How many good checkpoints the run folder keeps (the newest in checkpoint/, older ones in
    /// checkpoint-step-N/), so a resume has an older one when the newest is lost. May change on resume.</summary>
    public int KeepCheckpoints { get; init; } = 2;
    public ulong Seed { get; init; } = 1337;
    /// <summary>mlm: the probability a token is chosen for prediction (BERT: 0.15).</summary>
    public double MaskProbability { get; init; } = 0.15;
    /// <summary>mlm: choose whole words (all their tokens together) instead of single tokens.</summary>
    public bool WholeWordMasking { get; init; }
    /// <summary>span: the fraction of tokens dropped into spans (T5: 0.15).</summary>
    public double NoiseDensity { get; init; } = 0.15;
    /// <summary>span: the mean length of a dropped span (T5: 3).</summary>
    public double MeanSpanLength { get; init; } = 3;
    /// <summary>fp32, or bf16/fp16 mixed precision (16-bit weights, activations and gradients, fp32 master weights and
    /// moments; fp16 with dynamic loss scaling).</summary>
    public PrecisionMode Precision { get; init; } = PrecisionMode.Fp32;
    /// <summary>fp16: the loss scale to start from (2^16, as torch.cuda.amp.GradScaler); it halves on overflow and
    /// doubles after 2000 clean steps.</summary>
    public float InitialLossScale { get; init; } = 65536f;
    /// <summary>
    /// fp16: halt (HaltReason.SkippedSteps) after this many consecutive steps skipped on overflow. From the default
    /// scale of 2^16 the scaler reaches its floor of 1 after 16 halvings; 20 lets it get there and still overflow four
    /// more times at scale 1, where the gradients overflow with no scaling at all: that is no longer a scale the
    /// scaler can find but values fp16 cannot hold. A larger starting scale needs log2(scale / 65536) more.
    /// </summary>
    public int MaxSkippedSteps { get; init; } = 20;
    /// <summary>What to do when the loss leaves its recent band or the gradient norm explodes (<see cref="DivergenceGuard"/>).</summary>
    public DivergenceAction Divergence { get; init; } = DivergenceAction.Warn;


    public void Validate()
    {
        void Positive(double value, EngineOption option) { if (!(value > 0)) throw new EngineException(option, $"{option} must be positive (got {value})"); }
        Positive(Steps, EngineOption.Steps);
        Positive(GlobalBatch, EngineOption.GlobalBatch);
        Positive(MicroBatch, EngineOption.MicroBatch);
        Positive(SequenceLength, EngineOption.SequenceLength);
        Positive(LearningRate, EngineOption.LearningRate);
        if (MicroBatch > GlobalBatch || GlobalBatch % MicroBatch != 0)
            throw new EngineException(EngineOption.MicroBatch, $"{EngineOption.GlobalBatch} {GlobalBatch} is not a multiple of {EngineOption.MicroBatch} {MicroBatch}: the global batch must split into whole micro-batches (e.g. {EngineOption.MicroBatch} {LargestDivisor(GlobalBatch, MicroBatch)})");
        if (WarmupSteps < 0) throw new EngineException(EngineOption.WarmupSteps, $"{EngineOption.WarmupSteps} must be 0 or more (got {WarmupSteps})");
        if (MinLearningRateRatio < 0 || MinLearningRateRatio > 1) throw new EngineException(EngineOption.MinLearningRateRatio, $"{EngineOption.MinLearningRateRatio} must be within 0..1 (got {MinLearningRateRatio})");
        if (EvalEvery < 0 || EvalBatches <= 0) throw new EngineException(EvalEvery < 0 ? EngineOption.EvalEvery : EngineOption.EvalBatches, $"{EngineOption.EvalEvery} must be 0 or more and {EngineOption.EvalBatches} positive");
        if (!(MaskProbability is > 0 and < 1)) throw new EngineException(EngineOption.MaskProbability, $"{EngineOption.MaskProbability} must be between 0 and 1 (got {MaskProbability}; BERT uses 0.15)");
        if (!(NoiseDensity is > 0 and < 1)) throw new EngineException(EngineOption.NoiseDensity, $"{EngineOption.NoiseDensity} must be between 0 and 1 (got {NoiseDensity}; T5 uses 0.15)");
        if (!(MeanSpanLength >= 1)) throw new EngineException(EngineOption.MeanSpanLength, $"{EngineOption.MeanSpanLength} must be at least 1 (got {MeanSpanLength}; T5 uses 3)");
        if (!Enum.IsDefined(Precision)) throw new EngineException(EngineOption.Precision, $"{EngineOption.Precision} {(int)Precision}: choose fp32, bf16 or fp16");
        if (!(InitialLossScale >= 1) || float.IsInfinity(InitialLossScale)) throw new EngineException(EngineOption.InitialLossScale, $"{EngineOption.InitialLossScale} must be a finite number of at least 1 (got {InitialLossScale})");
        if (MaxSkippedSteps < 1) throw new EngineException(EngineOption.MaxSkippedSteps, $"{EngineOption.MaxSkippedSteps} must be at least 1 (got {MaxSkippedSteps}; the default 20 lets the loss scale fall from 65536 to its floor of 1)");
        if (!Enum.IsDefined(Divergence)) throw new EngineException(EngineOption.Divergence, $"{EngineOption.Divergence} {(int)Divergence}: choose warn, stop or off");
        if (KeepCheckpoints < 1) throw new EngineException(EngineOption.KeepCheckpoints, $"{EngineOption.KeepCheckpoints} must be at least 1 (got {KeepCheckpoints}): a run keeps its newest checkpoint");
        if (CheckpointEvery < 0) throw new EngineException(EngineOption.CheckpointEvery, $"{EngineOption.CheckpointEvery} must be 0 or more (got {CheckpointEvery})");
    }

    static int LargestDivisor(int n, int max)
    {
        for (int d = Math.Min(n, max); d > 1; d--) if (n % d == 0) return d;
        return 1;
    }
}
