using System.Text.Json.Serialization;

namespace Engine.Objectives;

/// <summary>
/// What a run learns, which also fixes the model family it trains. The JSON names are the ones checkpoints record
/// (trainer_state.json's "objective"), unchanged from when the field was a string.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrainingObjective>))]
public enum TrainingObjective
{
    /// <summary>Causal language modelling (next token), decoder-only models (GPT-2).</summary>
    [JsonStringEnumMemberName(CausalLanguageModeling.Name)] Clm,
    /// <summary>Masked language modelling, encoder-only models (BERT).</summary>
    [JsonStringEnumMemberName(MaskedLanguageModeling.Name)] Mlm,
    /// <summary>T5 span corruption, encoder-decoder models.</summary>
    [JsonStringEnumMemberName(SpanLanguageModeling.Name)] Span,
}

public static class TrainingObjectives
{
    /// <summary>The short name runs are recorded under (run folders, checkpoints, metrics).</summary>
    public static string Name(this TrainingObjective objective) => objective switch
    {
        TrainingObjective.Mlm => MaskedLanguageModeling.Name,
        TrainingObjective.Span => SpanLanguageModeling.Name,
        _ => CausalLanguageModeling.Name,
    };

    /// <summary>The family each objective trains.</summary>
    public static Models.ModelFamily Family(this TrainingObjective objective) => objective switch
    {
        TrainingObjective.Mlm => Models.ModelFamily.EncoderOnly,
        TrainingObjective.Span => Models.ModelFamily.EncoderDecoder,
        _ => Models.ModelFamily.DecoderOnly,
    };

    /// <summary>The preset a run uses when it names no model: each objective trains its own family.</summary>
    public static string DefaultPreset(this TrainingObjective objective) => objective switch
    {
        TrainingObjective.Mlm => "bert-tiny",
        TrainingObjective.Span => "t5-tiny",
        _ => Models.Presets.Default,
    };
}
