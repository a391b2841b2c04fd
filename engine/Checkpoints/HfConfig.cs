using System.Text.Json.Nodes;
using Engine.Models;

namespace Engine.Checkpoints;

/// <summary>config.json of any supported family: picks the family by model_type on read and by our config on write.</summary>
public static class HfConfig
{
    public static TransformerConfig FromJson(JsonObject json, string source)
    {
        string type = StrictJson.OptionalString(json, "model_type", source) ?? "";
        var config = type switch
        {
            "gpt2" => HfGpt2.ConfigFromJson(json, source),
            "bert" => HfBert.ConfigFromJson(json, source),
            "t5" => HfT5.ConfigFromJson(json, source),
            _ => throw new FileFormatException(source, "model_type", "gpt2, bert or t5", $"'{type}'", "other model types are not supported"),
        };
        return ConfigLimits.Checked(config, source);
    }

    public static TransformerConfig Read(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"{path}: not found; a model folder holds config.json beside model.safetensors");
        return FromJson(StrictJson.ReadObject(path), path);
    }

    public static JsonObject ToJson(TransformerConfig config) => config.Family switch
    {
        ModelFamily.DecoderOnly => HfGpt2.ConfigToJson(config),
        ModelFamily.EncoderOnly => HfBert.ConfigToJson(config),
        _ => HfT5.ConfigToJson(config),
    };

    /// <summary>The HF class a folder of this config opens with (for messages).</summary>
    public static string ClassName(TransformerConfig config) => config.Family switch
    {
        ModelFamily.DecoderOnly => "GPT2LMHeadModel",
        ModelFamily.EncoderOnly => "BertForMaskedLM",
        _ => "T5ForConditionalGeneration",
    };
}
