using Engine.Tensors;

namespace Engine.Optim;

/// <summary>AdamW hyper-parameters; defaults are GPT-2/nanoGPT's pre-training recipe.</summary>
/// <param name="PositionBiasLearningRateScale">Multiplies the learning rate of T5's relative position bias tables
/// (<see cref="OptimizerSegment.LearningRateScaleOf"/>); 1 = the same rate as every other tensor.</param>
/// <param name="WeightStepLearningRateScale">Multiplies the learning rate of quantization-aware training's learnt
/// weight steps (<see cref="OptimizerSegment.LearningRateScaleOf"/>).</param>
/// <param name="InputStepLearningRateScale">The same for its learnt input steps.</param>
/// <param name="Optimizer">fp32 moments, or 8-bit block-wise quantized ones (<see cref="BlockwiseMoments"/>).</param>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record AdamWSettings(float Beta1 = 0.9f, float Beta2 = 0.95f, float Epsilon = 1e-8f, float WeightDecay = 0.1f, float PositionBiasLearningRateScale = 1f,
    float WeightStepLearningRateScale = 0.1f, float InputStepLearningRateScale = 1f, OptimizerKind Optimizer = OptimizerKind.AdamW);

/// <summary>
/// AdamW over a flat parameter buffer: the whole model's, or an FSDP rank's shard. Weight decay applies to tensors
/// with ≥ 2 dimensions only (matrices and embeddings), never to biases and norm gains. Moments are fp32, in the same
/// layout as the parameters they follow, or with <see cref="OptimizerKind.AdamW8Bit"/> 8-bit codes with block-wise
/// absmax (<see cref="EightBit"/>; <see cref="FirstMoment"/> and <see cref="SecondMoment"/> are then empty). What a step writes (fp32 weights, or master weights and their 16-bit copy)
/// is the <see cref="AdamWWeights"/> given; which one a model trains with is its parameter state's choice.
/// </summary>
public sealed class AdamWOptimizer
{
    readonly IBackend backend;
    readonly IReadOnlyList<OptimizerSegment> segments;
    readonly AdamWWeights weights;
    readonly Slice<float> gradients;
    public AdamWSettings Settings { get; }
    public Slice<float> FirstMoment { get; }
    public Slice<float> SecondMoment { get; }
    /// <summary>The 8-bit moments under <see cref="OptimizerKind.AdamW8Bit"/>; null with fp32 moments.</summary>
    public BlockwiseMoments? EightBit { get; }
    /// <summary>Elements of the buffer the optimizer updates (the model's, or an FSDP rank's shard).</summary>
    public long Length => weights.Length;
    /// <summary>Bytes of both moments (what a memory report counts for the optimizer).</summary>
    public long MomentBytes => EightBit?.Bytes ?? FirstMoment.Bytes + SecondMoment.Bytes;
    /// <summary>The backend the moments live on and the update runs on (the CPU when FSDP offloads).</summary>
    public IBackend Backend => backend;
    /// <summary>Optimizer steps taken so far (Adam's bias correction uses it).</summary>
    public int Step { get; set; }

    /// <summary>fp32 parameters of a whole model, updated in place.</summary>
    public AdamWOptimizer(IBackend backend, ParameterLayout layout, Slice<float> parameters, Slice<float> gradients, AdamWSettings settings)
        : this(backend, OptimizerSegment.Pieces(layout, settings), new Fp32AdamWWeights(parameters), gradients, settings) { }

    /// <param name="segments">Tensor pieces (<see cref="OptimizerSegment.Pieces"/>, <see cref="Distributed.ShardPlan.LocalPieces"/>);
    /// fp32 moments merge them into longer calls, 8-bit moments lay their blocks on them (and refuse merged segments).</param>
    public AdamWOptimizer(IBackend backend, IReadOnlyList<OptimizerSegment> segments, AdamWWeights weights, Slice<float> gradients, AdamWSettings settings)
    {
        if (weights.Length != gradients.Length) throw new ArgumentException($"{weights.Length} parameters but {gradients.Length} gradients");
        foreach (var s in segments)
            if (s.Start < 0 || s.Start + s.Count > weights.Length)
                throw new ArgumentException($"optimizer segment [{s.Start}, {s.Start + s.Count}) outside a buffer of {weights.Length}");
        this.backend = backend; this.weights = weights; this.gradients = gradients;
        Settings = settings;
        switch (settings.Optimizer)
        {
            case OptimizerKind.AdamW:
                this.segments = OptimizerSegment.Merge(segments);
                FirstMoment = backend.Allocate<float>(weights.Length, "AdamW first moments");
                SecondMoment = backend.Allocate<float>(weights.Length, "AdamW second moments");
                break;
            case OptimizerKind.AdamW8Bit:
                this.segments = segments;
                EightBit = new BlockwiseMoments(backend, segments);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(settings), settings.Optimizer, "an optimizer kind AdamWOptimizer does not know");
        }
    }

    public void Update(float learningRate)
    {
        Step++;
        if (EightBit != null)
        {
            EightBit.Update(weights, gradients, learningRate, Settings, Step);
            return;
        }
        foreach (var s in segments)
        {
            float rate = learningRate * s.LearningRateScale, decay = s.Decay ? Settings.WeightDecay : 0f;
            weights.Update(backend, s.Start, s.Count, gradients.Sub(s.Start, s.Count), FirstMoment.Sub(s.Start, s.Count), SecondMoment.Sub(s.Start, s.Count),
                rate, Settings, decay, Step);
        }
    }
}
