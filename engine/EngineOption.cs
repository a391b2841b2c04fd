namespace Engine;

/// <summary>
/// The user-settable options the engine can blame in an error or name in a hint, as typed keys: the engine knows
/// what went wrong and which option fixes it, a front end knows what the option is called there (the trainer's
/// command line maps each key to its flag). Names follow the properties of the option records (TrainOptions,
/// TrainingSettings, TransformerConfig, SamplingSettings, the planning requests), so a message rendered with the
/// default names points an API caller at the property to change.
/// </summary>
public enum EngineOption
{
    // What to train and where (TrainOptions).
    Objective, Model, Data, EvalData, Device, Strategy, Out, Resume, InitFrom, ExtendVocab, PadVocab, EmbeddedBpe,
    // How FSDP shards (FsdpOptions).
    ReshardAfterForward, ShardingFactor, CpuOffload, FsdpOverlap,
    // The schedule and the batch (TrainingSettings).
    Steps, GlobalBatch, MicroBatch, SequenceLength, LearningRate, MinLearningRateRatio, WarmupSteps, EvalEvery, EvalBatches,
    CheckpointEvery, KeepCheckpoints, MaskProbability, NoiseDensity, MeanSpanLength, Precision, InitialLossScale, Qat, Optimizer,
    Seed, ClipNorm, WeightDecay, PositionBiasLearningRateScale, WeightStepLearningRateScale, InputStepLearningRateScale, WholeWordMasking,
    MaxSkippedSteps, Divergence,
    // The model's shape (TransformerConfig).
    Layers, Dim, Heads, FeedForwardDim, MaxPositions, VocabSize,
    // Preparing data (DatasetPreparer) and using a trained model (SamplingSettings, fill-in).
    Input, Tokenizer, Text, MaxNewTokens, Temperature, TopK,
    // Training a tokenizer (BpeTrainingOptions).
    TokenizerVocabSize, SpecialTokens,
    // Post-training quantization (PostTrainingQuantization.Write's arguments).
    Checkpoint, Bits, WeightOnly,
    // Planning and scaling laws.
    Gpus, ZeroStage, Gpu, GpuMemory, Parameters, Tokens, ComputeBudget, Mfu, ScalingCsv, ExcludeHighestLoss, SweepModels, Budgets,
}
