namespace Engine.Tokenizers;

/// <summary>A tokenizer spec or file that cannot be used; the message names it and the choices.</summary>
public sealed class TokenizerException : EngineException
{
    public TokenizerException(string message) : base(message) { }
    public TokenizerException(string message, Exception? innerException) : base(message, innerException) { }
}
