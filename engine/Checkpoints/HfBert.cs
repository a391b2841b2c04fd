using System.Text.Json.Nodes;
using Engine.Models;

namespace Engine.Checkpoints;

/// <summary>HuggingFace BertForMaskedLM folders: config.json to and from our config (weights through <see cref="HfWeights"/>).</summary>
public static class HfBert
{
    public static TransformerConfig ConfigFromJson(JsonObject json, string source)
    {
        string activation = StrictJson.OptionalString(json, "hidden_act", source) ?? "gelu";
        if (activation != "gelu")
            throw new EngineException($"{source}: hidden_act {activation} is not supported (BERT uses gelu, the exact erf form)");
        string positions = StrictJson.OptionalString(json, "position_embedding_type", source) ?? "absolute";
        if (positions != "absolute")
            throw new EngineException($"{source}: position_embedding_type {positions} is not supported (only absolute, BERT's learned positions)");
        int Get(string key) => StrictJson.Int(json, key, source, 1, ConfigLimits.MaxSize);
        int vocab = Get("vocab_size");
        int? OptionalId(string key) => StrictJson.OptionalInt(json, key, source, -1, ConfigLimits.MaxSize);
        return new TransformerConfig
        {
            Family = ModelFamily.EncoderOnly,
            VocabSize = vocab,
            PaddedVocabSize = vocab,
            MaxPositions = Get("max_position_embeddings"),
            Layers = Get("num_hidden_layers"),
            Dim = Get("hidden_size"),
            Heads = Get("num_attention_heads"),
            FeedForwardDim = Get("intermediate_size"),
            TokenTypes = StrictJson.OptionalInt(json, "type_vocab_size", source, -1, ConfigLimits.MaxSize) ?? 2,
            LayerNormEpsilon = StrictJson.OptionalDouble(json, "layer_norm_eps", source, 0, 1) ?? 1e-12,
            PadToken = OptionalId("pad_token_id") ?? 0,
            // BERT has no end-of-text; [SEP] ends a segment, which is the closest thing (our config keeps it there).
            EndOfTextToken = Math.Clamp(OptionalId("sep_token_id") ?? OptionalId("eos_token_id") ?? 0, 0, vocab - 1),
        };
    }

    public static JsonObject ConfigToJson(TransformerConfig c) => new()
    {
        ["architectures"] = new JsonArray("BertForMaskedLM"),
        ["model_type"] = "bert",
        ["hidden_act"] = "gelu",
        ["vocab_size"] = c.VocabSize,
        ["hidden_size"] = c.Dim,
        ["num_hidden_layers"] = c.Layers,
        ["num_attention_heads"] = c.Heads,
        ["intermediate_size"] = c.FeedForwardDim,
        ["max_position_embeddings"] = c.MaxPositions,
        ["type_vocab_size"] = c.TokenTypes,
        ["layer_norm_eps"] = c.LayerNormEpsilon,
        ["pad_token_id"] = Math.Max(0, c.PadToken),
        ["sep_token_id"] = c.EndOfTextToken,
        ["position_embedding_type"] = "absolute",
        ["hidden_dropout_prob"] = 0.0,
        ["attention_probs_dropout_prob"] = 0.0,
        ["initializer_range"] = 0.02,
        ["tie_word_embeddings"] = true,
        ["is_decoder"] = false,
        ["dtype"] = "float32",
    };
}
