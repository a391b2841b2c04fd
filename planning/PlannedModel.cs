using Engine.Models;
using Engine.Tensors;

namespace Engine.Planning;

/// <summary>
/// The model a plan is for: a config the engine can build (so activations come from its own plan) and the parameter
/// count N used for memory and 6·N·D. With only a parameter count, a GPT-shaped config is chosen whose size is close to N,
/// and N stays what the user gave.
/// </summary>
public sealed record PlannedModel(string Name, TransformerConfig Config, long Parameters, bool ShapeAssumed)
{
    public const int Gpt2Vocab = 50257;

    /// <summary>A config the engine can build, counted by the engine's own parameter layout.</summary>
    public static PlannedModel FromConfig(string name, TransformerConfig config)
    {
        config.Validate();
        return new PlannedModel(name, config, TransformerModel.LayoutOf(config).Count, ShapeAssumed: false);
    }

    /// <summary>
    /// A GPT-2-style shape for N parameters: head size 128 and width ≈ 128 × layers, the proportions of GPT-3 6.7B,
    /// 13B and 175B and of LLaMA 7B. N ≈ 12·L·d² + (V + T)·d is solved for d, rounded to a multiple of 128, then L.
    /// </summary>
    /// <summary>The name of a model known only by its count (a front end may say which option gave it).</summary>
    public const string CountOnlyName = "a parameter count (GPT shape assumed for activations)";

    public static PlannedModel ForParameters(long parameters, int vocab, int positions)
    {
        if (parameters < 1) throw new EngineException(EngineOption.Parameters, $"{EngineOption.Parameters} must be positive (got {parameters})");
        int dim = Math.Max(128, (int)Math.Round(Math.Cbrt(parameters * 128.0 / 12) / 128) * 128);
        long perLayer = 12L * dim * dim + 13L * dim;
        long embeddings = (long)(vocab + positions) * dim;
        int layers = (int)Math.Max(1, Math.Round((double)(parameters - embeddings) / perLayer));
        var config = new TransformerConfig
        {
            Family = ModelFamily.DecoderOnly, VocabSize = vocab, PaddedVocabSize = vocab, MaxPositions = positions,
            Layers = layers, Dim = dim, Heads = dim / 128, FeedForwardDim = 4 * dim, EndOfTextToken = vocab - 1,
        };
        return new PlannedModel(CountOnlyName, config, parameters, ShapeAssumed: true);
    }

    /// <summary>Parameters of the largest unit FSDP gathers at once: one block, or the token table when that is bigger.</summary>
    public long LargestUnitParameters
    {
        get
        {
            var layout = TransformerModel.LayoutOf(Config);
            long tokenTable = layout.Contains(TransformerModel.TokenTableName) ? layout[TransformerModel.TokenTableName].Count : 0;
            long block = layout.Tensors.Where(t => t.Name.StartsWith("transformer.h.0.", StringComparison.Ordinal)).Sum(t => t.Count);
            return Math.Max(tokenTable, block);
        }
    }

    /// <summary>
    /// Training FLOPs per token counted from the model's own matrix products: 2 per multiply-add of every weight
    /// matrix the forward pass multiplies by (all 2-D parameters except the position table, which is a lookup; the tied
    /// token table counts once, as the output head), plus attention's QKᵀ and probabilities·V over the full T×T
    /// (2·2·T·d per layer, the convention of PaLM's appendix B and Chinchilla's appendix F, so MFU compares with theirs),
    /// times 3 for forward + backward (backward costs twice the forward).
    /// </summary>
    public double TrainingFlopsPerToken(int sequence)
    {
        ParameterLayout layout = TransformerModel.LayoutOf(Config);
        double matrixElements = layout.Tensors.Where(t => t.Shape.Length == 2 && t.Name != TransformerModel.PositionTableName).Sum(t => (double)t.Count);
        double forward = 2 * matrixElements + 4.0 * Config.Layers * sequence * Config.Dim;
        return 3 * forward;
    }
}
