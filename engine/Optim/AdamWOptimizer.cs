using Engine.Tensors;

namespace Engine.Optim;

/// <summary>AdamW hyper-parameters; defaults are GPT-2/nanoGPT's pre-training recipe.</summary>
public sealed record AdamWSettings(float Beta1 = 0.9f, float Beta2 = 0.95f, float Epsilon = 1e-8f, float WeightDecay = 0.1f);

/// <summary>
/// AdamW over the flat parameter buffer. Weight decay applies to tensors with ≥ 2 dimensions only (matrices and
/// embeddings), never to biases and norm gains. Moments are fp32, in the same layout as the parameters.
/// </summary>
public sealed class AdamWOptimizer
{
    readonly IBackend backend;
    readonly ParameterLayout layout;
    readonly Slice<float> parameters, gradients;
    public AdamWSettings Settings { get; }
    public Slice<float> FirstMoment { get; }
    public Slice<float> SecondMoment { get; }
    /// <summary>Optimizer steps taken so far (Adam's bias correction uses it).</summary>
    public int Step { get; set; }

    public AdamWOptimizer(IBackend backend, ParameterLayout layout, Slice<float> parameters, Slice<float> gradients, AdamWSettings settings)
    {
        this.backend = backend; this.layout = layout; this.parameters = parameters; this.gradients = gradients;
        Settings = settings;
        FirstMoment = backend.Allocate<float>(layout.Count, "AdamW first moments");
        SecondMoment = backend.Allocate<float>(layout.Count, "AdamW second moments");
    }

    public void Update(float learningRate)
    {
        Step++;
        // Runs of neighbouring tensors with the same decay setting go in one call (one launch on the GPU).
        var tensors = layout.Tensors;
        for (int i = 0; i < tensors.Count;)
        {
            int j = i;
            while (j + 1 < tensors.Count && tensors[j + 1].Decay == tensors[i].Decay) j++;
            long start = tensors[i].Offset, count = tensors[j].Offset + tensors[j].Count - start;
            backend.AdamW(parameters.Sub(start, count), gradients.Sub(start, count), FirstMoment.Sub(start, count), SecondMoment.Sub(start, count),
                learningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, tensors[i].Decay ? Settings.WeightDecay : 0f, Step);
            i = j + 1;
        }
    }
}
