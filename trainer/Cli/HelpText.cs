using System.CommandLine;
using System.CommandLine.Help;
using System.Text;

namespace Trainer.Cli;

/// <summary>
/// The trainer's help, written from the same command tree the parser uses: summary, usage, one line per flag with
/// its placeholder, help and default, then the epilog. Kept in our own layout (rather than System.CommandLine's)
/// so each flag stays on one greppable line and the usage line reads like the README's.
/// </summary>
public static class HelpText
{
    public static string For(TrainerCommand command)
    {
        if (command.Subcommands.Count > 0 && command.Action == null) return SubcommandList(command);
        var options = command.Options.Where(o => o is not HelpOption).ToList();
        var text = new StringBuilder();
        text.AppendLine(command.Summary).AppendLine().AppendLine("Usage: " + command.Usage).AppendLine().AppendLine("Options:");
        static string Bare(Option o) => o.Name.TrimStart('-');
        static string Value(Option o) => o.HelpName ?? "";
        int width = options.Count == 0 ? 8 : options.Max(o => Bare(o).Length + (Value(o).Length > 0 ? Value(o).Length + 1 : 0)) + 4;
        foreach (var o in options)
        {
            string left = "  --" + Bare(o) + (Value(o).Length > 0 ? " " + Value(o) : "");
            text.Append(left.PadRight(width + 2)).Append(o.Description);
            if ((o as IDefaultText)?.DefaultText is { } value) text.Append($" (default: {value})");
            text.AppendLine();
        }
        text.Append("  --help".PadRight(width + 2)).AppendLine("show this help");
        if (command.Epilog != null) text.AppendLine().AppendLine(command.Epilog);
        return text.ToString();
    }

    /// <summary>A command that only groups others (`trainer scaling`): what each of them does.</summary>
    public static string SubcommandList(TrainerCommand command) =>
        command.Summary + "\nSubcommands:\n"
        + string.Join("\n", command.Subcommands.OfType<TrainerCommand>().Select(c => $"  {c.Path,-16} {c.Summary}"))
        + $"\n`trainer {command.Path} SUBCOMMAND --help` for each.";

    /// <summary>The line under the root's (and train's) help that lists the other commands.</summary>
    public static string CommandList(IEnumerable<TrainerCommand> commands) =>
        "Commands: train (default), " + string.Join(", ", commands.Select(c => c.Name)) + "; `trainer COMMAND --help` for each.";
}

/// <summary>`--help` and `-h` on any command print <see cref="HelpText"/> to standard output (exit 0).</summary>
public sealed class HelpPrinter(IReadOnlyList<TrainerCommand> subcommands) : System.CommandLine.Invocation.SynchronousCommandLineAction
{
    public override int Invoke(ParseResult result)
    {
        var command = (TrainerCommand)result.CommandResult.Command;
        Console.WriteLine(HelpText.For(command));
        // The root and `train` (Path "train"), not another command's subcommand that is also called train (`tokenizer train`).
        if (command.Path == "train") Console.WriteLine(HelpText.CommandList(subcommands));
        return 0;
    }
}
