using System.Runtime.InteropServices;

namespace Trainer;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM (what a scheduler or `kill` sends first): the first of either asks a run to stop after
/// its step and save a checkpoint, and is remembered so the exit code can say which it was (<see cref="ExitCodes"/>);
/// a second one is left to the runtime's default and ends the process at once.
/// </summary>
public sealed class StopSignals : IDisposable
{
    static int received; // the PosixSignal number of the first signal, 0 for none; static: TrainCommand reads it
    readonly CancellationTokenSource source = new();
    readonly PosixSignalRegistration interrupt, terminate;

    public StopSignals()
    {
        interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => source.Token;

    /// <summary>The first stop signal this process received, if any.</summary>
    public static PosixSignal? Received
    {
        get
        {
            int signal = Volatile.Read(ref received);
            return signal == 0 ? null : (PosixSignal)signal; // PosixSignal's values are never 0
        }
    }

    void OnSignal(PosixSignalContext context)
    {
        if (source.IsCancellationRequested) return; // a second signal: the default ends the process now
        context.Cancel = true;
        Interlocked.CompareExchange(ref received, (int)context.Signal, 0);
        Console.Error.WriteLine(context.Signal == PosixSignal.SIGINT
            ? "\nstopping after this step and saving a checkpoint (Ctrl-C again to abort)…"
            : "\nSIGTERM: stopping after this step and saving a checkpoint (a second SIGTERM aborts)…");
        source.Cancel();
    }

    /// <summary>Unregisters the handlers. The token source is left to the collector: a signal already being handled on
    /// the runtime's thread may still cancel it (a disposed one would throw there and crash the process).</summary>
    public void Dispose()
    {
        interrupt.Dispose();
        terminate.Dispose();
    }
}
