using Engine.Models;

namespace Engine.Checkpoints;

/// <summary>
/// What a model config read from a file (config.json, trainer_state.json) must satisfy before a model is built from
/// it: the shape checks the command line's options get, and a size the engine can hold. A damaged number (a flipped
/// digit making 128 layers 1,028,000) would otherwise end in an allocation failure or an overflow far from the file.
/// </summary>
public static class ConfigLimits
{
    /// <summary>The largest single size (vocabulary, width, positions, layers) a config may state.</summary>
    public const int MaxSize = 16_777_216;

    /// <summary>The config when it describes a model the engine can build; a <see cref="FileFormatException"/> naming
    /// the file otherwise.</summary>
    public static TransformerConfig Checked(TransformerConfig config, string file)
    {
        try { config.Validate(); }
        catch (EngineException e) when (e is not FileFormatException)
        {
            throw new FileFormatException(file, "model", "a model shape the engine can build", e.Text?.Render(o => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(o.ToString())) ?? e.Message, "the file is damaged or was not written for this engine", e);
        }
        long parameters;
        try { parameters = TransformerModel.LayoutOf(config).Count; }
        catch (OverflowException e) { throw TooLarge(file, config, "more than a long can count", e); }
        if (parameters <= 0 || parameters > Array.MaxLength)
            throw TooLarge(file, config, $"{parameters:N0} parameters", null);
        return config;
    }

    static FileFormatException TooLarge(string file, TransformerConfig config, string found, Exception? inner) =>
        new(file, "model", $"a model of at most {Array.MaxLength:N0} parameters (one flat buffer)",
            $"{found} (vocabulary {config.VocabSize}, width {config.Dim}, {config.Layers} layers, feed-forward {config.FeedForwardDim})",
            "the file is damaged or describes a model too large for this engine", inner);
}
