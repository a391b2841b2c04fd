namespace Engine.Tokenizers;

/// <summary>A tokenizer spec that names nothing usable, a tokenizer file that is missing, or ids a tokenizer cannot
/// decode; the message names it and the choices. A tokenizer file whose content is damaged throws
/// <see cref="FileFormatException"/>, as every reader of an untrusted file does.</summary>
public sealed class TokenizerException : EngineException
{
    public TokenizerException(string message) : base(message) { }
    public TokenizerException(string message, Exception? innerException) : base(message, innerException) { }
}
