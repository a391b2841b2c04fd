namespace Engine.Data;

/// <summary>
/// A data file whose content is wrong: not a token shard, truncated, unsupported version, malformed JSON lines,
/// token ids outside the model's vocabulary. One of the <see cref="FileFormatException"/>s every reader of an untrusted
/// file throws, so a caller catches one type for all of them.
/// </summary>
public sealed class DataFormatException : FileFormatException
{
    public DataFormatException(string message) : base(message) { }
    public DataFormatException(string message, Exception? innerException) : base(message, innerException) { }
    public DataFormatException(EngineOption option, OptionMessageBuilder text) : base(option, text) { }
}
