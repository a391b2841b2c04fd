using System.CommandLine;

namespace Trainer.Cli;

/// <summary>What help prints as a flag's "(default: …)", whatever the flag's value type.</summary>
public interface IDefaultText
{
    string? DefaultText { get; }
}

/// <summary>
/// A command-line option with what help shows as its default. The text is not always the value: many defaults
/// depend on other flags ("16 (embedded: 8; mlm 32)"), so commands fill them in after parsing and help says how.
/// </summary>
public sealed class Flag<T> : Option<T>, IDefaultText
{
    public Flag(string name) : base("--" + name) { }

    /// <summary>Null prints no default.</summary>
    public string? DefaultText { get; init; }
}
