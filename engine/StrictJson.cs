using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine;

/// <summary>
/// Reads values out of a JSON file that may be damaged or foreign: every wrong type, missing key or out-of-range
/// number becomes a <see cref="FileFormatException"/> naming the file and the key (System.Text.Json's own errors,
/// "The node must be of type 'JsonObject'", name neither).
/// </summary>
public static class StrictJson
{
    /// <summary>A key twice in one object is an error at parse time (JsonNode would otherwise throw an ArgumentException
    /// naming no file when the object is first read).</summary>
    public static readonly JsonDocumentOptions NoDuplicates = new() { AllowDuplicateProperties = false };

    /// <summary>The file's text as a JSON object.</summary>
    public static JsonObject ParseObject(string text, string file)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text, documentOptions: NoDuplicates); }
        catch (JsonException e) { throw new FileFormatException(file, null, "a JSON object", $"text that is not JSON ({e.Message})", "the file is damaged or not this kind of file"); }
        return node as JsonObject ?? throw new FileFormatException(file, null, "a JSON object", Describe(node));
    }

    /// <summary>Reads a whole file as a JSON object.</summary>
    public static JsonObject ReadObject(string file) => ParseObject(File.ReadAllText(file), file);

    /// <summary>A required whole number in [min, max].</summary>
    public static int Int(JsonObject json, string key, string file, int min = int.MinValue, int max = int.MaxValue) =>
        OptionalInt(json, key, file, min, max) ?? throw new FileFormatException(file, key, Range("a whole number", min, max), "no such key");

    /// <summary>A whole number in [min, max], or null when the key is absent or JSON null.</summary>
    public static int? OptionalInt(JsonObject json, string key, string file, int min = int.MinValue, int max = int.MaxValue)
    {
        var node = json[key];
        if (node == null) return null;
        if (node is JsonValue v && v.TryGetValue(out long value) && value >= min && value <= max) return (int)value;
        throw new FileFormatException(file, key, Range("a whole number", min, max), Describe(node));
    }

    /// <summary>A finite number in [min, max], or null when absent or JSON null.</summary>
    public static double? OptionalDouble(JsonObject json, string key, string file, double min = double.MinValue, double max = double.MaxValue)
    {
        var node = json[key];
        if (node == null) return null;
        if (node is JsonValue v && v.TryGetValue(out double value) && double.IsFinite(value) && value >= min && value <= max) return value;
        throw new FileFormatException(file, key, $"a number from {min} to {max}", Describe(node));
    }

    /// <summary>A string, or null when absent or JSON null.</summary>
    public static string? OptionalString(JsonObject json, string key, string file)
    {
        var node = json[key];
        if (node == null) return null;
        if (node is JsonValue v && v.TryGetValue(out string? value)) return value;
        throw new FileFormatException(file, key, "a string", Describe(node));
    }

    /// <summary>true or false, or null when absent or JSON null.</summary>
    public static bool? OptionalBool(JsonObject json, string key, string file)
    {
        var node = json[key];
        if (node == null) return null;
        if (node is JsonValue v && v.TryGetValue(out bool value)) return value;
        throw new FileFormatException(file, key, "true or false", Describe(node));
    }

    /// <summary>A node as a message shows it: its kind, or its (shortened) text for a value.</summary>
    public static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray a => $"an array of {a.Count}",
        _ => Shorten(node.ToJsonString()),
    };

    static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    static string Range(string what, long min, long max) =>
        min == int.MinValue && max == int.MaxValue ? what
        : max == int.MaxValue ? $"{what} ≥ {min}"
        : $"{what} from {min} to {max}";
}
