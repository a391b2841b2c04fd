using System.Text;

namespace Trainer.Cli;

/// <summary>A command: its options and what runs it. Help text is generated from the same list the parser uses.</summary>
public sealed class CommandSpec
{
    public required string Name { get; init; }
    public required string Summary { get; init; }
    public required string Usage { get; init; }
    public required IReadOnlyList<OptionSpec> Options { get; init; }
    public required Func<ParsedOptions, CancellationToken, int> Run { get; init; }
    public string? Epilog { get; init; }
    /// <summary>Commands under this one (`trainer scaling fit`): the first word after the name picks one.</summary>
    public IReadOnlyList<CommandSpec>? Subcommands { get; init; }

    public string Help()
    {
        var text = new StringBuilder();
        text.AppendLine(Summary).AppendLine().AppendLine("Usage: " + Usage).AppendLine().AppendLine("Options:");
        int width = Options.Max(o => o.Name.Length + (o.Value.Length > 0 ? o.Value.Length + 1 : 0)) + 4;
        foreach (var o in Options.Append(OptionSpec.Flag("--help", "show this help")))
        {
            string left = "  --" + o.Name.TrimStart('-') + (o.Value.Length > 0 ? " " + o.Value : "");
            text.Append(left.PadRight(width + 2)).Append(o.Help);
            if (o.Default != null) text.Append($" (default: {o.Default})");
            text.AppendLine();
        }
        if (Epilog != null) text.AppendLine().AppendLine(Epilog);
        return text.ToString();
    }
}
