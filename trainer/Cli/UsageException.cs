namespace Trainer.Cli;

/// <summary>The command line itself is wrong (unknown option, missing value): exit code 2, with the fix.</summary>
public sealed class UsageException(string message) : Exception(message);
