using Engine.Tensors;

namespace Engine.Optim;

/// <summary>AdamW hyper-parameters; defaults are GPT-2/nanoGPT's pre-training recipe.</summary>
/// <param name="PositionBiasLearningRateScale">Multiplies the learning rate of T5's relative position bias tables
/// (<see cref="OptimizerSegment.LearningRateScaleOf"/>); 1 = the same rate as every other tensor.</param>
public sealed record AdamWSettings(float Beta1 = 0.9f, float Beta2 = 0.95f, float Epsilon = 1e-8f, float WeightDecay = 0.1f, float PositionBiasLearningRateScale = 1f);

/// <summary>
/// AdamW over a flat parameter buffer: the whole model's, or an FSDP rank's shard. Weight decay applies to tensors
/// with ≥ 2 dimensions only (matrices and embeddings), never to biases and norm gains. Moments are fp32, in the same
/// layout as the parameters they follow.
/// </summary>
public sealed class AdamWOptimizer
{
    readonly IBackend backend;
    readonly IReadOnlyList<OptimizerSegment> segments;
    readonly Slice<float> parameters, gradients;
    // Mixed precision: the fp32 weights AdamW updates, and the backend that rounds them into the model's 16-bit copy.
    readonly Slice<float> master;
    readonly Backends.Emulation.ReducedPrecisionBackend? rounding;
    public AdamWSettings Settings { get; }
    /// <summary>The fp32 master weights under mixed precision (the model's parameters are their rounded copy); empty in fp32.</summary>
    public Slice<float> MasterWeights => master;
    public Slice<float> FirstMoment { get; }
    public Slice<float> SecondMoment { get; }
    /// <summary>The backend the moments live on and the update runs on (the CPU when FSDP offloads).</summary>
    public IBackend Backend => backend;
    /// <summary>Optimizer steps taken so far (Adam's bias correction uses it).</summary>
    public int Step { get; set; }

    public AdamWOptimizer(IBackend backend, ParameterLayout layout, Slice<float> parameters, Slice<float> gradients, AdamWSettings settings)
        : this(backend, OptimizerSegment.Of(layout, settings), parameters, gradients, settings) { }

    public AdamWOptimizer(IBackend backend, IReadOnlyList<OptimizerSegment> segments, Slice<float> parameters, Slice<float> gradients, AdamWSettings settings)
    {
        if (parameters.Length != gradients.Length) throw new ArgumentException($"{parameters.Length} parameters but {gradients.Length} gradients");
        foreach (var s in segments)
            if (s.Start < 0 || s.Start + s.Count > parameters.Length)
                throw new ArgumentException($"optimizer segment [{s.Start}, {s.Start + s.Count}) outside a buffer of {parameters.Length}");
        this.backend = backend; this.segments = segments; this.parameters = parameters; this.gradients = gradients;
        Settings = settings;
        FirstMoment = backend.Allocate<float>(parameters.Length, "AdamW first moments");
        SecondMoment = backend.Allocate<float>(parameters.Length, "AdamW second moments");
    }

    /// <summary>
    /// Mixed precision: the model computes with 16-bit weights, AdamW updates an fp32 master copy of them (made here
    /// from the model's current, full-precision values) and writes each update back rounded. Moments stay fp32.
    /// </summary>
    public AdamWOptimizer(Backends.Emulation.ReducedPrecisionBackend mixed, ParameterLayout layout, Slice<float> parameters, Slice<float> gradients, AdamWSettings settings)
        : this(mixed.Inner, OptimizerSegment.Of(layout, settings), parameters, gradients, settings)
    {
        rounding = mixed;
        master = mixed.Inner.Allocate<float>(parameters.Length, "master weights");
        mixed.Inner.Copy(parameters, master);
        mixed.Round(parameters);
    }

    public void Update(float learningRate)
    {
        Step++;
        var weights = rounding == null ? parameters : master;
        foreach (var s in segments)
            backend.AdamW(weights.Sub(s.Start, s.Count), gradients.Sub(s.Start, s.Count), FirstMoment.Sub(s.Start, s.Count), SecondMoment.Sub(s.Start, s.Count),
                learningRate * s.LearningRateScale, Settings.Beta1, Settings.Beta2, Settings.Epsilon, s.Decay ? Settings.WeightDecay : 0f, Step);
        if (rounding != null)
        {
            backend.Copy(master, parameters);
            rounding.Round(parameters);
        }
    }
}
