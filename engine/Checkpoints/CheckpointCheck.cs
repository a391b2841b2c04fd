using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Checkpoints;

/// <summary>
/// Cheap checks that a training checkpoint folder is complete, made before a resume trusts it: trainer_state.json
/// parses and names a step, config.json is there, and each safetensors file is exactly as long as its header promises.
/// Only the headers are read (a few KB), never the tensors: the strict reader (<see cref="SafeTensors.Read"/>) still
/// checks every entry when the chosen one loads.
/// </summary>
public static class CheckpointCheck
{
    /// <summary>What a check found: the step the state names (null when it cannot be read) and the first problem (null: good).</summary>
    public sealed record Result(int? Step, string? Problem)
    {
        public bool IsGood => Problem == null;
    }

    public static Result Of(string folder)
    {
        int? step = null;
        string statePath = Path.Combine(folder, Checkpoint.StateFile);
        if (!File.Exists(statePath)) return new Result(null, $"{Checkpoint.StateFile} is missing");
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(statePath)) as JsonObject;
            if (node?["step"] is JsonValue value && value.TryGetValue(out int s) && s >= 0) step = s;
            else return new Result(null, $"{Checkpoint.StateFile} names no step");
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or FormatException)
        {
            return new Result(null, $"{Checkpoint.StateFile} does not parse ({e.Message})");
        }
        if (!File.Exists(Path.Combine(folder, Checkpoint.ConfigFile))) return new Result(step, $"{Checkpoint.ConfigFile} is missing");
        foreach (string file in new[] { Checkpoint.WeightsFile, Checkpoint.OptimizerFile })
            if (SafeTensorsProblem(Path.Combine(folder, file)) is { } problem) return new Result(step, $"{file} {problem}");
        return new Result(step, null);
    }

    /// <summary>Why a safetensors file is not whole (missing, header unreadable, shorter or longer than its header's
    /// byte ranges add up to); null when its length is the one its header promises.</summary>
    public static string? SafeTensorsProblem(string path)
    {
        if (!File.Exists(path)) return "is missing";
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            var (tensors, dataStart, length) = SafeTensors.ReadHeader(file, path);
            long end = 0;
            foreach (var (name, entry) in tensors)
            {
                if (name == "__metadata__") continue;
                if (entry?["data_offsets"] is not JsonArray { Count: 2 } offsets || offsets[1] is not JsonValue last || !last.TryGetValue(out long stop))
                    return $"has no byte range for tensor {name}";
                end = Math.Max(end, stop);
            }
            long promised = dataStart + end;
            return length == promised ? null : $"is {length:N0} bytes but its header promises {promised:N0} (cut short or overwritten)";
        }
        catch (SafeTensorsFormatException e) { return $"has an unreadable header ({e.Message})"; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return $"could not be read ({e.Message})"; }
    }
}
