using System.Runtime.InteropServices;

namespace Trainer;

/// <summary>The exit code of a training run that returned (rather than failed): done, or stopped by a signal.</summary>
public static class ExitCodes
{
    /// <param name="interrupted">The run stopped before its last step (the summary says so) and saved a checkpoint.</param>
    /// <param name="signal">The signal this process received; null when the stop came from another rank, which sums the
    /// ranks' stop requests (the usual cause is Ctrl-C at the terminal, so that is the code given).</param>
    /// <returns>0 finished; 128 + the signal's number as shells report it: <see cref="Program.Interrupted"/> (130) for
    /// SIGINT, <see cref="Program.Terminated"/> (143) for SIGTERM.</returns>
    public static int ForRun(bool interrupted, PosixSignal? signal) =>
        !interrupted ? Program.Done
        : signal == PosixSignal.SIGTERM ? Program.Terminated
        : Program.Interrupted;
}
