using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Trainer.Cli;

/// <summary>
/// Builds the trainer's flags. Each converts and checks its value while the command line is parsed, so a wrong value
/// is a parse error whose message names the flag and says what is expected ("--steps: 'abc' is not a whole number").
/// Values are nullable where a command computes the default from other flags; absent flags read as null.
/// </summary>
public static class Flags
{
    public static Flag<int?> Int(string name, string value, string help, string? defaultText = null, int min = int.MinValue, int max = int.MaxValue) =>
        Single<int?>(name, value, help, defaultText, text =>
        {
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number))
                return (null, $"--{name}: '{text}' is not a whole number");
            if (number < min || number > max)
                return (null, $"--{name}: {number} is outside {min}..{(max == int.MaxValue ? "∞" : max.ToString(CultureInfo.InvariantCulture))}");
            return (number, null);
        });

    public static Flag<double?> Double(string name, string value, string help, string? defaultText = null, double min = double.NegativeInfinity, double max = double.PositiveInfinity) =>
        Single<double?>(name, value, help, defaultText, text =>
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) || !double.IsFinite(number))
                return (null, $"--{name}: '{text}' is not a number");
            if (number < min || number > max)
                return (null, $"--{name}: {text} is outside {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
            return (number, null);
        });

    public static Flag<string?> Text(string name, string value, string help, string? defaultText = null) =>
        Single<string?>(name, value, help, defaultText, text => (text, null));

    /// <summary>One word from a table of the engine's typed choices (<see cref="ChoiceNames"/>), read as its value.</summary>
    public static Flag<T?> Choice<T>(string name, IReadOnlyDictionary<string, T> choices, string help, string? defaultText = null) where T : struct =>
        Single<T?>(name, string.Join("|", choices.Keys), help, defaultText, text =>
            choices.TryGetValue(text, out var choice) ? (choice, null) : (null, $"--{name}: '{text}' is not one of {string.Join(", ", choices.Keys)}"));

    /// <summary>A word from a fixed list, read as the word (export's --format hf).</summary>
    public static Flag<string?> Word(string name, IReadOnlyCollection<string> words, string help, string? defaultText = null) =>
        Single<string?>(name, string.Join("|", words), help, defaultText, text =>
            words.Contains(text) ? (text, null) : (null, $"--{name}: '{text}' is not one of {string.Join(", ", words)}"));

    /// <summary>A switch: present means true (--json); `--json=false` and `--json true|false` also read.</summary>
    public static Flag<bool> Switch(string name, string help)
    {
        var flag = new Flag<bool>(name) { Description = help, Arity = ArgumentArity.ZeroOrOne };
        flag.CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return true;
            string text = result.Tokens[0].Value;
            if (text is "true" or "false") return text == "true";
            result.AddError(SwitchTakesNoValue(name));
            return false;
        };
        return flag;
    }

    public static string SwitchTakesNoValue(string name) => $"--{name} is a switch and takes no value";

    /// <summary>One or more values after the flag (--input a.txt b.txt), or the flag repeated.</summary>
    public static Flag<string[]> List(string name, string value, string help, string? defaultText = null) => new(name)
    {
        Description = help, HelpName = value, DefaultText = defaultText, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>
    /// A flag that may be given several times, one value each (--data a:3 --data b:1), every value converted and checked
    /// while parsing; absent reads as an empty array.
    /// </summary>
    public static Flag<T[]> Each<T>(string name, string value, string help, Func<string, (T? Value, string? Error)> convert, string? defaultText = null)
    {
        var flag = new Flag<T[]>(name)
        {
            Description = help, HelpName = value, DefaultText = defaultText,
            Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false,
        };
        flag.CustomParser = result =>
        {
            var values = new List<T>();
            foreach (var token in result.Tokens)
            {
                var (converted, error) = convert(token.Value);
                if (error != null) { result.AddError(error); return []; }
                values.Add(converted!);
            }
            return values.ToArray();
        };
        flag.Validators.Add(result =>
        {
            if (result.IdentifierTokenCount > result.Tokens.Count) result.AddError($"--{name} needs a value ({value})");
        });
        return flag;
    }

    static Flag<T> Single<T>(string name, string value, string help, string? defaultText, Func<string, (T? Value, string? Error)> convert)
    {
        // One value after each occurrence; the flag may be given again, and the last one counts (a shell alias or a
        // script's defaults followed by the user's override reads as the user meant).
        var flag = new Flag<T>(name)
        {
            Description = help, HelpName = value, DefaultText = defaultText,
            Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false,
        };
        flag.CustomParser = result =>
        {
            var (converted, error) = convert(result.Tokens[^1].Value);
            if (error != null) result.AddError(error);
            return converted!;
        };
        // Repeats are allowed, so `--steps 3 --steps` parses unless each occurrence is held to its value.
        flag.Validators.Add(result =>
        {
            if (result.IdentifierTokenCount > result.Tokens.Count) result.AddError($"--{name} needs a value ({value})");
        });
        return flag;
    }
}
