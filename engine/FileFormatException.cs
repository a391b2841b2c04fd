namespace Engine;

/// <summary>
/// A file the engine reads whose content is not what it must be (safetensors, config.json, trainer_state.json,
/// tokenizer files, token shards and their meta, eval batches): the one error every reader of an untrusted file throws.
/// The message names the file, the key or tensor, what was expected and what was found, so a damaged or foreign file
/// ends in one clear line instead of a crash deep inside the engine.
/// </summary>
public class FileFormatException : EngineException
{
    /// <summary>A free-form message that already names the file, the key and what is wrong.</summary>
    public FileFormatException(string message, Exception? innerException = null) : base(message, innerException) { }

    /// <summary>A message that names an option as the fix (e.g. the vocabulary a shard's ids must fit).</summary>
    public FileFormatException(EngineOption option, OptionMessageBuilder text, Exception? innerException = null) : base(option, text, innerException) { }

    /// <param name="file">The file at fault.</param>
    /// <param name="key">The key, tensor or line at fault; null when the whole file is.</param>
    /// <param name="expected">What a good file holds there.</param>
    /// <param name="found">What this one holds.</param>
    /// <param name="fix">What the user can do about it; null adds nothing.</param>
    public FileFormatException(string file, string? key, string expected, string found, string? fix = null, Exception? innerException = null)
        : base($"{file}: {(key == null ? "" : $"{key}: ")}expected {expected}, found {found}{(fix == null ? "" : $"; {fix}")}", innerException)
    {
        File = file;
        Key = key;
        Expected = expected;
        Found = found;
    }

    public string? File { get; }
    public string? Key { get; }
    public string? Expected { get; }
    public string? Found { get; }
}
