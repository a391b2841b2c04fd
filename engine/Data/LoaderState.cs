using System.Text.Json;
using System.Text.Json.Serialization;

namespace Engine.Data;

/// <summary>
/// Where a <see cref="CausalBatchLoader"/> stands: saved in checkpoints so a resumed run reads exactly the batches the
/// uninterrupted run would have. The same on every rank (it is the global position). <see cref="DatasetTokens"/> lets
/// a resume detect that the data changed underneath the checkpoint.
/// </summary>
public sealed record LoaderState(
    [property: JsonPropertyName("position")] long Position,
    [property: JsonPropertyName("epoch")] long Epoch,
    [property: JsonPropertyName("dataset_tokens")] long DatasetTokens)
{
    public const string PositionKey = "position";
    public const string EpochKey = "epoch";
    public const string DatasetTokensKey = "dataset_tokens";

    public Dictionary<string, long> ToDictionary() => new()
    {
        [PositionKey] = Position,
        [EpochKey] = Epoch,
        [DatasetTokensKey] = DatasetTokens,
    };

    public static LoaderState FromDictionary(IReadOnlyDictionary<string, long> values) =>
        new(Get(values, PositionKey), Get(values, EpochKey), Get(values, DatasetTokensKey));

    public string ToJson() => JsonSerializer.Serialize(this);

    public static LoaderState FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<LoaderState>(json) ?? throw new DataFormatException("saved data position: empty JSON");
        }
        catch (JsonException error)
        {
            throw new DataFormatException($"saved data position: not valid JSON ({error.Message})", error);
        }
    }

    private static long Get(IReadOnlyDictionary<string, long> values, string key) =>
        values.TryGetValue(key, out long value)
            ? value
            : throw new DataFormatException($"saved data position: '{key}' is missing; the checkpoint's training state is incomplete");
}
