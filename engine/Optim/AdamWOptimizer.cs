using Engine.Precision;
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
    // Mixed precision: the fp32 weights AdamW updates; `parameters` is then their 16-bit copy, written in the same pass.
    readonly Slice<float> master;
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
    /// Mixed precision: the model computes with a 16-bit copy of its weights (<paramref name="computeCopy"/>, 16-bit
    /// storage), AdamW updates the fp32 master weights and writes the copy from them in the same pass
    /// (<see cref="IBackend.AdamWMixed"/>). Moments stay fp32.
    /// </summary>
    public AdamWOptimizer(IBackend backend, ParameterLayout layout, Slice<float> master, Slice<float> computeCopy, Slice<float> gradients, AdamWSettings settings)
        : this(backend, OptimizerSegment.Of(layout, settings), master, computeCopy, gradients, settings) { }

    /// <summary>The same over given segments (an FSDP rank's shard: its fp32 masters and their 16-bit copy).</summary>
    public AdamWOptimizer(IBackend backend, IReadOnlyList<OptimizerSegment> segments, Slice<float> master, Slice<float> computeCopy, Slice<float> gradients, AdamWSettings settings)
        : this(backend, segments, computeCopy, gradients, settings)
    {
        if (master.Length != computeCopy.Length) throw new ArgumentException($"{master.Length} master weights for {computeCopy.Length} parameters");
        HalfStorage.FormatOf(computeCopy); // refuses a compute copy in fp32 storage
        this.master = master;
    }

    public void Update(float learningRate)
    {
        Step++;
        foreach (var s in segments)
        {
            float rate = learningRate * s.LearningRateScale, decay = s.Decay ? Settings.WeightDecay : 0f;
            var (g, m, v) = (gradients.Sub(s.Start, s.Count), FirstMoment.Sub(s.Start, s.Count), SecondMoment.Sub(s.Start, s.Count));
            if (master.IsEmpty)
                backend.AdamW(parameters.Sub(s.Start, s.Count), g, m, v, rate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, decay, Step);
            else
                backend.AdamWMixed(master.Sub(s.Start, s.Count), HalfStorage.Bits(parameters.Sub(s.Start, s.Count)), HalfStorage.FormatOf(parameters), g, m, v,
                    rate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, decay, Step);
        }
    }
}
