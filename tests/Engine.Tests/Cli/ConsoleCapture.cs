namespace Engine.Tests.Cli;

/// <summary>Runs the trainer's entry point with its console output captured.</summary>
public static class ConsoleCapture
{
    static readonly object Gate = new();

    public static (int ExitCode, string Out, string Error) Run(params string[] args)
    {
        lock (Gate) // Console is process-wide: one captured run at a time
        {
            var (oldOut, oldError) = (Console.Out, Console.Error);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            Console.SetOut(stdout); Console.SetError(stderr);
            try { return (Trainer.Program.Run(args), stdout.ToString(), stderr.ToString()); }
            finally { Console.SetOut(oldOut); Console.SetError(oldError); }
        }
    }
}
