namespace Engine;

/// <summary>
/// Base of every error the engine raises on purpose: the message names the thing at fault and the fix,
/// so the command line can print it without a stack trace. Anything else escaping is a bug.
/// </summary>
public class EngineException : Exception
{
    public EngineException(string message) : base(message) { }
    public EngineException(string message, Exception? innerException) : base(message, innerException) { }
}
