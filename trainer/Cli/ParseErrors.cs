using System.CommandLine;
using System.CommandLine.Parsing;

namespace Trainer.Cli;

/// <summary>
/// Turns System.CommandLine's parse errors into the trainer's: each names the flag or word at fault and the fix
/// (an unknown flag gets the flags it may have meant, a flag without its value shows the value's placeholder).
/// </summary>
public static class ParseErrors
{
    public static string Describe(ParseResult result, IReadOnlyList<string> args)
    {
        var command = (TrainerCommand)result.CommandResult.Command;
        if (result.UnmatchedTokens.Count > 0) return Unmatched(command, result.UnmatchedTokens[0], args);
        var error = result.Errors[0];
        if (error.SymbolResult is OptionResult { Tokens.Count: 0 } missing && missing.Option.Arity.MinimumNumberOfValues > 0)
            return $"{missing.Option.Name} needs a value ({missing.Option.HelpName})";
        if (error.SymbolResult is CommandResult { Command: TrainerCommand { Subcommands.Count: > 0, Action: null } group })
            return $"`trainer {group.Path}` needs a subcommand; " + HelpText.SubcommandList(group);
        return error.Message; // the flags' own converters wrote these: "--steps: 'abc' is not a whole number"
    }

    static string Unmatched(TrainerCommand command, string token, IReadOnlyList<string> args)
    {
        string help = $"run `trainer {command.Path} --help`";
        if (token.StartsWith("--"))
        {
            string name = token[2..].Split('=')[0];
            var known = command.Options.Select(o => o.Name[2..]).Where(n => n != "help").ToList();
            var close = known.Where(k => k.StartsWith(name[..Math.Min(3, name.Length)])).ToList();
            string hint = close.Count > 0 ? $" (did you mean {string.Join(" or ", close.Select(k => "--" + k))}?)" : "";
            return $"unknown option --{name} for `trainer {command.Path}`{hint}; {help}";
        }
        // `--json=yes` reaches us as the switch and a stray 'yes'.
        var switchWithValue = command.Options.OfType<Flag<bool>>().FirstOrDefault(s => args.Contains($"{s.Name}={token}"));
        if (switchWithValue != null) return Flags.SwitchTakesNoValue(switchWithValue.Name[2..]);
        return $"unexpected argument '{token}' for `trainer {command.Path}`: options start with --; {help}";
    }
}
