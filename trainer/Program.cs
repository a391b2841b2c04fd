using Engine;
using Trainer.Cli;
using Trainer.Commands;

namespace Trainer;

/// <summary>
/// `trainer`: the root command trains; prepare, eval, export, generate and bench are subcommands. Exit codes: 0 done,
/// 1 an error in the input or the run (the message names the file or flag and the fix), 2 a wrong command line.
/// </summary>
public static class Program
{
    static readonly CommandSpec[] Subcommands =
        { PrepareCommand.Spec, EvalCommand.Spec, ExportCommand.Spec, GenerateCommand.Spec, FillMaskCommand.Spec, InfillCommand.Spec, BenchCommand.Spec, PlanCommand.Spec, ScalingCommand.Spec, CommCheckCommand.Spec };

    public static int Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancellation.IsCancellationRequested) return; // a second Ctrl-C stops at once
            e.Cancel = true;
            Console.Error.WriteLine("\nstopping after this step and saving a checkpoint (Ctrl-C again to abort)…");
            cancellation.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try { return Run(args, cancellation.Token); }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    public static int Run(string[] args, CancellationToken cancellation = default)
    {
        var train = TrainCommand.Spec;
        CommandSpec command = train;
        IReadOnlyList<string> rest = args;
        if (args.Length > 0 && !args[0].StartsWith("-"))
        {
            command = Subcommands.FirstOrDefault(c => c.Name == args[0]) ?? (args[0] == "train" ? train : null!);
            if (command == null)
            {
                Console.Error.WriteLine($"error: unknown command '{args[0]}'; commands: train (default), {string.Join(", ", Subcommands.Select(c => c.Name))}");
                return 2;
            }
            rest = args[1..];
            // A command with subcommands (`trainer scaling fit …`) hands over to the one its next word names.
            while (command.Subcommands is { } children)
            {
                var child = rest.Count > 0 ? children.FirstOrDefault(c => c.Name.Split(' ')[^1] == rest[0]) : null;
                if (child == null)
                {
                    bool help = rest.Count > 0 && rest[0] is "--help" or "-h";
                    (help ? Console.Out : Console.Error).WriteLine((help ? "" : $"error: `trainer {command.Name}` needs a subcommand; ") +
                        command.Summary + "\nSubcommands:\n" + string.Join("\n", children.Select(c => $"  {c.Name,-16} {c.Summary}")) +
                        $"\n`trainer {command.Name} SUBCOMMAND --help` for each.");
                    return help ? 0 : 2;
                }
                command = child;
                rest = rest.Skip(1).ToList();
            }
        }
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            Console.WriteLine(command.Help());
            if (command == train) Console.WriteLine("Commands: train (default), " + string.Join(", ", Subcommands.Select(c => $"{c.Name}")) + "; `trainer COMMAND --help` for each.");
            return 0;
        }
        try
        {
            return command.Run(ArgumentParser.Parse(command, rest), cancellation);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
        catch (EngineException e)
        {
            Console.Error.WriteLine("error: " + FlagNames.Render(e));
            return 1;
        }
    }
}
