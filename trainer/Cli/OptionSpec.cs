namespace Trainer.Cli;

/// <summary>One command-line option: its name, the placeholder shown in help, what it does and its default.</summary>
public sealed record OptionSpec(string Name, string Value, string Help, string? Default = null)
{
    /// <summary>A switch without a value (--json).</summary>
    public bool IsFlag { get; init; }
    /// <summary>Takes one or more values (--input a.txt b.txt).</summary>
    public bool IsList { get; init; }

    public static OptionSpec Flag(string name, string help) => new(name, "", help) { IsFlag = true };
    public static OptionSpec List(string name, string value, string help) => new(name, value, help) { IsList = true };
}
