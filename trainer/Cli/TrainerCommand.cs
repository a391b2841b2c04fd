using System.CommandLine;

namespace Trainer.Cli;

/// <summary>
/// A command of the trainer: System.CommandLine's command plus what our help prints around the options (a usage
/// line written for people, an epilog) and the words that name it in messages (`trainer scaling fit`).
/// </summary>
public sealed class TrainerCommand : Command
{
    public TrainerCommand(string name, string summary, string usage, string? epilog = null) : base(name, summary)
    {
        Usage = usage;
        Epilog = epilog;
    }

    public string Summary => Description ?? "";
    public string Usage { get; }
    public string? Epilog { get; }

    /// <summary>The command as a user types it after `trainer` ("scaling fit"); the root trains, and says "train".</summary>
    public string Path => Parents.OfType<TrainerCommand>().FirstOrDefault() is { Parents: var grand } parent && grand.Any()
        ? $"{parent.Path} {Name}"
        : Parents.Any() ? Name : "train";

    /// <summary>Runs the command with the parse result and the process's Ctrl-C token; returns the exit code.</summary>
    public void SetRun(Func<ParseResult, CancellationToken, int> run) =>
        SetAction((result, cancellation) => Task.FromResult(run(result, cancellation)));

    /// <summary>Adds flags in the order help lists them.</summary>
    public TrainerCommand With(params Option[] options)
    {
        foreach (var option in options) Add(option);
        return this;
    }
}
