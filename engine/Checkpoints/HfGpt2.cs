using System.Text.Json.Nodes;
using Engine.Models;
using Engine.Tensors;

namespace Engine.Checkpoints;

/// <summary>
/// HuggingFace GPT2LMHeadModel folders: config.json to and from our config, weights through <see cref="HfWeights"/>.
/// </summary>
public static class HfGpt2
{
    public static TransformerConfig ConfigFromJson(JsonObject json, string source)
    {
        string? activation = StrictJson.OptionalString(json, "activation_function", source);
        if (activation is not null and not "gelu_new" and not "gelu_pytorch_tanh")
            throw new EngineException($"{source}: activation_function {activation} is not supported (GPT-2 uses gelu_new)");
        int Get(string key) => StrictJson.Int(json, key, source, 1, ConfigLimits.MaxSize);
        int dim = Get("n_embd");
        int vocab = Get("vocab_size");
        return new TransformerConfig
        {
            Family = ModelFamily.DecoderOnly,
            VocabSize = vocab,
            PaddedVocabSize = vocab,
            MaxPositions = Get("n_positions"),
            Layers = Get("n_layer"),
            Dim = dim,
            Heads = Get("n_head"),
            FeedForwardDim = StrictJson.OptionalInt(json, "n_inner", source, -1, ConfigLimits.MaxSize) ?? 4 * dim,
            LayerNormEpsilon = StrictJson.OptionalDouble(json, "layer_norm_epsilon", source, 0, 1) ?? 1e-5,
            EndOfTextToken = Math.Min(StrictJson.OptionalInt(json, "eos_token_id", source, -1, ConfigLimits.MaxSize) ?? vocab - 1, vocab - 1),
        };
    }

    public static JsonObject ConfigToJson(TransformerConfig c) => new()
    {
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["model_type"] = "gpt2",
        ["activation_function"] = "gelu_new",
        ["vocab_size"] = c.VocabSize,
        ["n_positions"] = c.MaxPositions,
        ["n_embd"] = c.Dim,
        ["n_layer"] = c.Layers,
        ["n_head"] = c.Heads,
        ["n_inner"] = c.FeedForwardDim,
        ["layer_norm_epsilon"] = c.LayerNormEpsilon,
        ["bos_token_id"] = c.EndOfTextToken,
        ["eos_token_id"] = c.EndOfTextToken,
        ["resid_pdrop"] = 0.0,
        ["embd_pdrop"] = 0.0,
        ["attn_pdrop"] = 0.0,
        ["initializer_range"] = 0.02,
        ["scale_attn_weights"] = true,
        ["tie_word_embeddings"] = true,
        ["dtype"] = "float32",
    };

    /// <summary>Copies HF tensors into the flat parameter buffer; GPT-2 files may omit the "transformer." prefix.</summary>
    public static void LoadInto(TransformerModel model, IReadOnlyDictionary<string, SafeTensor> tensors, string source, bool stepsMayBeMissing = false) =>
        HfWeights.LoadInto(model, tensors, source, AlternativeName, stepsMayBeMissing);

    /// <summary>The name a GPT-2 file may give a tensor instead of ours (without "transformer."), or null.</summary>
    public static string? AlternativeName(string name) => name.StartsWith("transformer.") ? name["transformer.".Length..] : null;

    public static void CopyFromHf(SafeTensor t, ParameterInfo p, Span<float> dest, string source) => HfWeights.CopyFromHf(t, p, dest, source);
}
