namespace Engine;

/// <summary>An error the user can act on: the message names the file, flag or value at fault and the fix.</summary>
public class EngineException : Exception
{
    public EngineException(string message) : base(message) { }
    public EngineException(string message, Exception inner) : base(message, inner) { }
}
