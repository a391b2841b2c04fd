using System.CommandLine;

namespace Trainer.Cli;

/// <summary>
/// A command-line option with what help shows as its default. The text is not always the value: many defaults
/// depend on other flags ("16 (embedded: 8; mlm 32)"), so commands fill them in after parsing and help says how.
/// </summary>
public sealed class Flag<T> : Option<T>
{
    public Flag(string name) : base("--" + name) { }

    /// <summary>What help prints as "(default: …)"; null prints none.</summary>
    public string? DefaultText { get; init; }
}

/// <summary>Help reads the default text of any flag through this, whatever its value type.</summary>
public static class FlagDefaults
{
    public static string? Of(Option option) =>
        option.GetType().GetProperty(nameof(Flag<int>.DefaultText))?.GetValue(option) as string;
}
