using System.CommandLine;
using System.CommandLine.Help;
using Trainer.Commands;

namespace Trainer.Cli;

/// <summary>
/// The whole command line as one System.CommandLine tree: the root trains (`trainer --objective clm` is
/// `trainer train --objective clm`), and each other command is a subcommand with its own flags.
/// </summary>
public static class TrainerCommandLine
{
    /// <summary>Response files (`@args.txt`) stay off: a prompt or text starting with @ is the user's text.</summary>
    public static readonly ParserConfiguration Parsing = new() { ResponseFileTokenReplacer = null };

    public static TrainerCommand Build()
    {
        var subcommands = new List<TrainerCommand>
        {
            PrepareCommand.Create(), EvalCommand.Create(), ExportCommand.Create(), GenerateCommand.Create(), FillMaskCommand.Create(),
            InfillCommand.Create(), QuantizeCommand.Create(), BenchCommand.Create(), PlanCommand.Create(), ScalingCommand.Create(), TokenizerCommand.Create(), CorpusCommand.Create(), CommCheckCommand.Create(),
        };
        var root = TrainCommand.Create("trainer");
        root.Add(TrainCommand.Create("train"));
        foreach (var command in subcommands) root.Add(command);
        root.Add(new HelpOption { Action = new HelpPrinter(subcommands) });
        return root;
    }

    /// <summary>Every command of the tree, the root first.</summary>
    public static IEnumerable<TrainerCommand> All(TrainerCommand command) =>
        new[] { command }.Concat(command.Subcommands.OfType<TrainerCommand>().SelectMany(All));
}
