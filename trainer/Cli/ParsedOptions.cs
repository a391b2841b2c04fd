using System.Globalization;

namespace Trainer.Cli;

/// <summary>Values given on the command line, read with conversions whose errors name the option and the fix.</summary>
public sealed class ParsedOptions(string command, Dictionary<string, List<string>> values)
{
    public bool Has(string name) => values.ContainsKey(name);
    public bool Flag(string name) => values.ContainsKey(name);

    public string? String(string name) => values.TryGetValue(name, out var v) ? v[^1] : null;
    public string String(string name, string fallback) => String(name) ?? fallback;

    public string Required(string name) =>
        String(name) ?? throw new UsageException($"`trainer {command}` needs --{name}; run `trainer {command} --help`");

    public IReadOnlyList<string> List(string name) => values.TryGetValue(name, out var v) ? v : new List<string>();

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = String(name);
        if (text == null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            throw new UsageException($"--{name}: '{text}' is not a whole number");
        if (value < min || value > max)
            throw new UsageException($"--{name}: {value} is outside {min}..{(max == int.MaxValue ? "∞" : max.ToString(CultureInfo.InvariantCulture))}");
        return value;
    }

    public int? OptionalInt(string name, int min = int.MinValue) => Has(name) ? Int(name, 0, min) : null;

    public double Double(string name, double fallback, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        var text = String(name);
        if (text == null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            throw new UsageException($"--{name}: '{text}' is not a number");
        if (value < min || value > max)
            throw new UsageException($"--{name}: {text} is outside {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>A word from a table of the engine's typed choices (<see cref="ChoiceNames"/>), as its value.</summary>
    public T Choice<T>(string name, string fallback, IReadOnlyDictionary<string, T> choices) =>
        choices[Choice(name, fallback, choices.Keys.ToList())];

    public string Choice(string name, string fallback, IReadOnlyCollection<string> choices)
    {
        var text = String(name) ?? fallback;
        if (!choices.Contains(text)) throw new UsageException($"--{name}: '{text}' is not one of {string.Join(", ", choices)}");
        return text;
    }
}
