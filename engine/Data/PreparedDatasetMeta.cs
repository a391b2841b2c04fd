using System.Text.Json;
using System.Text.Json.Serialization;

namespace Engine.Data;

/// <summary>
/// meta.json of a prepared folder: which tokenizer made the shards and how many tokens each split holds, so training
/// can check the model's vocabulary against the data's before step 1 and recreate the tokenizer for samples.
/// </summary>
public sealed record PreparedDatasetMeta(
    [property: JsonPropertyName("tokenizer")] string Tokenizer,
    [property: JsonPropertyName("vocab_size")] int VocabSize,
    [property: JsonPropertyName("eot")] int EndOfText,
    [property: JsonPropertyName("train_tokens")] long TrainTokens,
    [property: JsonPropertyName("val_tokens")] long ValTokens)
{
    public const string FileName = "meta.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string PathIn(string folder) => Path.Combine(folder, FileName);

    /// <summary>Written through a temporary file and a rename, like the shards, so a crash never leaves half a meta.json.</summary>
    public void Save(string folder)
    {
        string path = PathIn(folder);
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Indented));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Null when the folder has no meta.json (shards made by other tools, e.g. llm.c's scripts).</summary>
    public static PreparedDatasetMeta? LoadIfPresent(string folder)
    {
        string path = PathIn(folder);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<PreparedDatasetMeta>(File.ReadAllText(path))
                   ?? throw new DataFormatException($"dataset description {path}: empty; run `trainer prepare` again");
        }
        catch (JsonException error)
        {
            throw new DataFormatException($"dataset description {path}: not valid ({error.Message}); run `trainer prepare` again", error);
        }
    }
}
