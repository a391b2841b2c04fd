using Engine.Backends.Mixed;
using Engine.Models;
using Engine.Tensors;
using Engine.Util;

namespace Engine.Tests.Support;

/// <summary>Small versions of each family's preset and random batches for them (ids 4‥293 of a 300-token vocabulary,
/// clear of the special ids), for tests that need every family's layer layout but not its size.</summary>
public static class TinyModels
{
    public static TransformerConfig Config(string preset, int dim = 64) =>
        Presets.Get(preset) with { Layers = 3, DecoderLayers = 3, Dim = dim, Heads = 4, HeadDim = 0, FeedForwardDim = 2 * dim, VocabSize = 300, PaddedVocabSize = 300, MaxPositions = 32 };

    /// <summary>B rows of T input tokens (and of decoderT decoder tokens for T5) with a target per output row.</summary>
    public static (ModelInputs Inputs, int[] Targets) RandomBatch(TransformerConfig config, Rng rng, int B = 2, int T = 16, int decoderT = 8)
    {
        bool encoderDecoder = config.Family == ModelFamily.EncoderDecoder;
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => 4 + rng.NextInt(290)).ToArray();
        var inputs = new ModelInputs(Tokens(B * T), B, T)
        {
            DecoderTokens = encoderDecoder ? Tokens(B * decoderT) : null,
            DecoderT = encoderDecoder ? decoderT : 0,
        };
        return (inputs, Tokens(encoderDecoder ? B * decoderT : B * T));
    }

    /// <summary>One forward and backward from fixed initial weights on any backend: the loss and every parameter's
    /// gradient.</summary>
    public static (double Loss, float[] Gradients) Step(TransformerConfig config, IBackend backend, ModelInputs inputs, int[] targets)
    {
        using var model = new TransformerModel(config, backend);
        Initialization.Initialize(model, new Rng(11));
        model.ZeroGradients();
        double loss = model.Forward(inputs, targets, gradientScale: 1f / targets.Length);
        model.Backward();
        var gradients = new float[model.ParameterCount];
        model.ParameterState.GatherGradients(gradients);
        return (loss, gradients);
    }

    /// <summary><see cref="Step"/> on a mixed-precision backend, with how many ops it staged through fp32.</summary>
    public static (double Loss, float[] Gradients, long Staged) MixedStep(TransformerConfig config, MixedPrecisionBackend backend, ModelInputs inputs, int[] targets)
    {
        var (loss, gradients) = Step(config, backend, inputs, targets);
        return (loss, gradients, backend.StagedOps);
    }
}
