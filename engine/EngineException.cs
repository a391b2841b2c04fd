namespace Engine;

/// <summary>
/// Base of every error the engine raises on purpose: the message names the thing at fault and the fix,
/// so the command line can print it without a stack trace. Anything else escaping is a bug.
/// </summary>
public class EngineException : Exception
{
    public EngineException(string message) : base(message) { }
    public EngineException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>An error caused by the value of a user's option, or fixed by changing one.</summary>
    /// <param name="option">The option at fault (or the one that fixes it).</param>
    /// <param name="text">The message, naming options as typed keys: `$"{EngineOption.SequenceLength} {t} is too long"`.</param>
    public EngineException(EngineOption option, OptionMessageBuilder text, Exception? innerException = null)
        : this(option, text.Build(), innerException) { }

    public EngineException(EngineOption option, OptionMessage text, Exception? innerException = null)
        : base(text.ToString(), innerException)
    {
        Option = option;
        Text = text;
    }

    /// <summary>The option the error is about, when a user's option is at fault or is the fix; null otherwise.</summary>
    public EngineOption? Option { get; }

    /// <summary>The message with options as typed keys, for a front end to name them its own way; null when it names none.</summary>
    public OptionMessage? Text { get; }

    /// <summary>The message with options named by <paramref name="name"/> (a command line's flags).</summary>
    public string Render(Func<EngineOption, string> name) => Text?.Render(name) ?? Message;
}
