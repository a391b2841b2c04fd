using System.Text.Json.Nodes;
using Engine.Models;

namespace Engine.Checkpoints;

/// <summary>config.json of any supported family: picks the family by model_type on read and by our config on write.</summary>
public static class HfConfig
{
    public static TransformerConfig FromJson(JsonObject json, string source)
    {
        string type = json["model_type"]?.GetValue<string>() ?? "";
        return type switch
        {
            "gpt2" => HfGpt2.ConfigFromJson(json, source),
            "bert" => HfBert.ConfigFromJson(json, source),
            "t5" => HfT5.ConfigFromJson(json, source),
            _ => throw new EngineException($"{source}: model_type '{type}' is not supported (gpt2, bert and t5 are)"),
        };
    }

    public static TransformerConfig Read(string path)
    {
        var json = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new EngineException($"{path}: empty");
        return FromJson(json, path);
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
