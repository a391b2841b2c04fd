using System.Text.Json.Nodes;
using Engine.Models;

namespace Engine.Checkpoints;

/// <summary>
/// HuggingFace T5ForConditionalGeneration folders (v1.1: gated-gelu, untied head; tied heads load too): config.json
/// to and from our config; weights through <see cref="HfWeights"/> (our names are HF's).
/// </summary>
public static class HfT5
{
    public static TransformerConfig ConfigFromJson(JsonObject json, string source)
    {
        string projection = StrictJson.OptionalString(json, "feed_forward_proj", source) ?? "relu";
        if (projection is not ("gated-gelu" or "gated-gelu_new"))
            throw new EngineException($"{source}: feed_forward_proj {projection} is not supported (T5 v1.1 uses gated-gelu; the original T5's relu is not implemented)");
        string? activation = StrictJson.OptionalString(json, "dense_act_fn", source);
        if (activation is not null and not "gelu_new" and not "gelu_pytorch_tanh")
            throw new EngineException($"{source}: dense_act_fn {activation} is not supported (T5 v1.1 uses gelu_new)");
        int Get(string key) => StrictJson.Int(json, key, source, 1, ConfigLimits.MaxSize);
        int? Optional(string key) => StrictJson.OptionalInt(json, key, source, -1, ConfigLimits.MaxSize);
        int vocab = Get("vocab_size"), dim = Get("d_model"), layers = Get("num_layers");
        bool tied = StrictJson.OptionalBool(json, "tie_word_embeddings", source) ?? true;
        return new TransformerConfig
        {
            Family = ModelFamily.EncoderDecoder,
            VocabSize = vocab,
            PaddedVocabSize = vocab,
            // No position table: the relative buckets serve any length; n_positions (512 in HF's T5 configs) bounds the sequence length.
            MaxPositions = Optional("n_positions") ?? 512,
            Layers = layers,
            DecoderLayers = Optional("num_decoder_layers") ?? layers,
            Dim = dim,
            Heads = Get("num_heads"),
            HeadDim = Get("d_kv"),
            FeedForwardDim = Get("d_ff"),
            LayerNormEpsilon = StrictJson.OptionalDouble(json, "layer_norm_epsilon", source, 0, 1) ?? 1e-6,
            RelativeAttentionBuckets = Optional("relative_attention_num_buckets") ?? 32,
            RelativeAttentionMaxDistance = Optional("relative_attention_max_distance") ?? 128,
            TiedHead = tied,
            // transformers 5 states the scaling as its own flag; transformers 4 scaled whenever the head was tied.
            ScaleDecoderOutput = tied && (StrictJson.OptionalBool(json, "scale_decoder_outputs", source) ?? true),
            PadToken = Optional("pad_token_id") ?? 0,
            EndOfTextToken = Math.Clamp(Optional("eos_token_id") ?? 1, 0, vocab - 1),
            DecoderStartToken = Optional("decoder_start_token_id") ?? 0,
        };
    }

    public static JsonObject ConfigToJson(TransformerConfig c) => new()
    {
        ["architectures"] = new JsonArray("T5ForConditionalGeneration"),
        ["model_type"] = "t5",
        ["is_encoder_decoder"] = true,
        ["feed_forward_proj"] = "gated-gelu",
        ["dense_act_fn"] = "gelu_new",
        ["is_gated_act"] = true,
        ["vocab_size"] = c.VocabSize,
        ["d_model"] = c.Dim,
        ["d_kv"] = c.HeadSize,
        ["d_ff"] = c.FeedForwardDim,
        ["num_layers"] = c.Layers,
        ["num_decoder_layers"] = c.DecoderLayerCount,
        ["num_heads"] = c.Heads,
        ["n_positions"] = c.MaxPositions,
        ["relative_attention_num_buckets"] = c.RelativeAttentionBuckets,
        ["relative_attention_max_distance"] = c.RelativeAttentionMaxDistance,
        ["layer_norm_epsilon"] = c.LayerNormEpsilon,
        ["tie_word_embeddings"] = c.TiedHead,
        ["scale_decoder_outputs"] = c.TiedHead && c.ScaleDecoderOutput,
        ["pad_token_id"] = Math.Max(0, c.PadToken),
        ["eos_token_id"] = c.EndOfTextToken,
        ["decoder_start_token_id"] = c.DecoderStartToken,
        ["dropout_rate"] = 0.0,
        ["initializer_factor"] = 1.0,
        ["use_cache"] = true,
        ["dtype"] = "float32",
    };
}
