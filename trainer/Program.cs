using System.CommandLine;
using Engine;
using Trainer.Cli;

namespace Trainer;

/// <summary>
/// `trainer`: the root command trains; prepare, eval, export, generate and bench are subcommands. Exit codes
/// (<see cref="ExitCodeHelp"/> prints them in `--help`): 0 done; 1 an error in the input or the run (the message names
/// the file or flag and the fix); 2 a wrong command line; 3 a run that stopped itself on a non-finite value or
/// divergence (<see cref="Engine.Training.TrainingHaltedException"/>; nothing past the last good checkpoint written);
/// 4 the ranks of a distributed run lost each other: a hung, stopped or dead rank, or a broken network
/// (<see cref="Engine.Distributed.CommunicationException"/>; the last checkpoint resumes it); 70 an unexpected failure
/// (one line, and the stack trace in a file it names); 130 stopped by Ctrl-C (SIGINT) and 143 by SIGTERM, each after
/// saving a checkpoint.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        using var signals = new StopSignals();
        return Run(args, signals.Token);
    }

    /// <summary>Our own Ctrl-C and SIGTERM handling above (stop after the step, save) and our own error messages below.</summary>
    static readonly InvocationConfiguration Invocation = new() { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };

    public static int Run(string[] args, CancellationToken cancellation = default)
    {
        var root = TrainerCommandLine.Build();
        // An unknown first word is a mistyped command, not a stray argument of the root's training.
        if (args.Length > 0 && !args[0].StartsWith('-') && !root.Subcommands.Any(c => c.Name == args[0]))
        {
            Console.Error.WriteLine($"error: unknown command '{args[0]}'; commands: train (default), {string.Join(", ", root.Subcommands.Where(c => c.Name != "train").Select(c => c.Name))}");
            return 2;
        }
        var parsed = root.Parse(args, TrainerCommandLine.Parsing);
        try
        {
            if (parsed.Errors.Count > 0 && parsed.Action is not HelpPrinter)
                throw new UsageException(ParseErrors.Describe(parsed, args));
            return parsed.InvokeAsync(Invocation, cancellation).GetAwaiter().GetResult();
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
        catch (Engine.Distributed.CommunicationException e)
        {
            Console.Error.WriteLine("error: " + FlagNames.Render(e));
            return CommunicationFailed;
        }
        catch (Engine.Training.TrainingHaltedException e)
        {
            Console.Error.WriteLine("error: " + FlagNames.Render(e));
            return Halted;
        }
        catch (EngineException e)
        {
            Console.Error.WriteLine("error: " + FlagNames.Render(e));
            return 1;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return ReportUnexpected(e, args);
        }
    }

    /// <summary>A failure no check foresaw: one line for the user, the whole trace in a file for the bug report.</summary>
    /// <returns><see cref="InternalError"/>.</returns>
    public static int ReportUnexpected(Exception e, string[] args)
    {
        string trace = Path.Combine(Path.GetTempPath(), $"trainer-error-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.txt");
        try { File.WriteAllText(trace, $"trainer {string.Join(' ', args)}\n\n{e}\n"); }
        catch (Exception) { trace = "(could not be written)"; }
        Console.Error.WriteLine($"error: unexpected {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (please report it; stack trace: {trace})");
        return InternalError;
    }

    /// <summary>A run that finished (or any other command that did its work).</summary>
    public const int Done = 0;

    /// <summary>The exit code of a run that stopped itself on a non-finite value or divergence, distinct from an input error's 1.</summary>
    public const int Halted = 3;

    /// <summary>The ranks of a distributed run lost each other (a collective ran past its deadline, or the transport saw
    /// a peer fail): resume from the last checkpoint, perhaps elsewhere; not an input error.</summary>
    public const int CommunicationFailed = Engine.Distributed.CommunicationException.ExitCode;

    /// <summary>The exit code of a failure no check foresaw (BSD's EX_SOFTWARE), distinct from an input error's 1.</summary>
    public const int InternalError = 70;

    /// <summary>A run stopped by Ctrl-C (SIGINT) after saving its checkpoint: 128 + 2, as shells report the signal.</summary>
    public const int Interrupted = 130;

    /// <summary>A run stopped by SIGTERM after saving its checkpoint: 128 + 15.</summary>
    public const int Terminated = 143;

    /// <summary>The exit codes as `--help` lists them.</summary>
    public const string ExitCodeHelp = "Exit codes: 0 done; 1 an error in the input or the run; 2 a wrong command line; "
        + "3 the run stopped itself on a non-finite value or divergence (the last good checkpoint kept); "
        + "4 the ranks lost each other (a hung, stopped or dead rank; resume from the last checkpoint); "
        + "70 an unexpected failure (stack trace in a file); 130 stopped by Ctrl-C, 143 by SIGTERM, after saving a checkpoint.";
}
