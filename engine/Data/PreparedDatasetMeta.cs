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
            var meta = JsonSerializer.Deserialize<PreparedDatasetMeta>(File.ReadAllText(path))
                   ?? throw new DataFormatException($"dataset description {path}: empty; run `trainer prepare` again");
            meta.Check(path);
            return meta;
        }
        catch (JsonException error)
        {
            throw new DataFormatException($"dataset description {path}: not valid ({error.Message}); run `trainer prepare` again", error);
        }
    }

    /// <summary>The values training relies on, refused by key when damaged (a null tokenizer, a vocabulary of 0, an
    /// end-of-text id outside it, negative counts) so they fail here rather than deep in a tokenizer or a sampler.</summary>
    void Check(string path)
    {
        string? problem = string.IsNullOrEmpty(Tokenizer) ? $"tokenizer: expected a tokenizer name, found {(Tokenizer == null ? "null" : "''")}"
            : VocabSize <= 0 ? $"vocab_size: expected a positive number, found {VocabSize}"
            : EndOfText < 0 || EndOfText >= VocabSize ? $"eot: expected an id from 0 to {VocabSize - 1}, found {EndOfText}"
            : TrainTokens < 0 || ValTokens < 0 ? $"{(TrainTokens < 0 ? "train_tokens" : "val_tokens")}: expected 0 or more, found {Math.Min(TrainTokens, ValTokens)}"
            : null;
        if (problem != null) throw new DataFormatException($"dataset description {path}: {problem}; run `trainer prepare` again");
    }
}
