using System.Globalization;
using Engine.Training;

namespace Trainer.Cli;

/// <summary>
/// The values of train's --data DIR[:WEIGHT] and --eval-data NAME=DIR, read while the command line is parsed, so a
/// weight that is not a positive number or a set without its name is a command-line mistake (exit 2) naming the flag.
/// </summary>
public static class DataFlagValues
{
    /// <summary>
    /// DIR or DIR:WEIGHT. The text after the last ':' is a weight unless it holds a path separator (C:\data) or the whole
    /// value is an existing folder (a folder whose name has a colon).
    /// </summary>
    public static (DataSource? Value, string? Error) Source(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon < 0 || Directory.Exists(text)) return (new DataSource(text), null);
        string path = text[..colon], weight = text[(colon + 1)..];
        if (weight.IndexOfAny(['/', '\\']) >= 0) return (new DataSource(text), null);
        if (path.Length == 0) return (null, $"--data {text}: no folder before the weight; write --data DIR:WEIGHT");
        if (!double.TryParse(weight, NumberStyles.Float, CultureInfo.InvariantCulture, out double w) || !double.IsFinite(w) || !(w > 0))
            return (null, $"--data {text}: the weight '{weight}' is not a positive number; write --data DIR:WEIGHT with a weight above 0 (e.g. {path}:1)");
        return (new DataSource(path, w), null);
    }

    /// <summary>NAME=DIR: the name metrics record the set's loss under, and a prepared folder.</summary>
    public static (EvalDataSet? Value, string? Error) EvalSet(string text)
    {
        int equals = text.IndexOf('=');
        if (equals <= 0 || equals == text.Length - 1)
            return (null, $"--eval-data {text}: write --eval-data NAME=DIR (a name for the set, then its prepared folder)");
        return (new EvalDataSet(text[..equals], text[(equals + 1)..]), null);
    }
}
