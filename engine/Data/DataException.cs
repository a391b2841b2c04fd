namespace Engine.Data;

/// <summary>
/// A problem on the data path that the user can fix (missing input, unwritable output folder,
/// data that does not fit the model). The message names the file and the fix.
/// </summary>
public class DataException : EngineException
{
    public DataException(string message) : base(message) { }
    public DataException(string message, Exception? innerException) : base(message, innerException) { }
    public DataException(EngineOption option, OptionMessageBuilder text, Exception? innerException = null) : base(option, text.Build(), innerException) { }
}
