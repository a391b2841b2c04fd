using System.CommandLine;

namespace Trainer.Cli;

/// <summary>Reading flags the way commands need beyond GetValue: was it given, and a flag a command cannot do without.</summary>
public static class ParseResultReading
{
    public static bool Has(this ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>The value of a flag the command needs, or a usage error naming it (exit 2).</summary>
    public static string Need(this ParseResult result, Flag<string?> flag) =>
        result.GetValue(flag) ?? throw new UsageException(
            $"`trainer {((TrainerCommand)result.CommandResult.Command).Path}` needs {flag.Name}; run `trainer {((TrainerCommand)result.CommandResult.Command).Path} --help`");
}
