namespace Engine.Tokenizers;

/// <summary>What masked-LM needs from a tokenizer beyond text ↔ ids: its [MASK] and [PAD] ids, which ids are special
/// (never masked, never drawn as random replacements) and where words end (for whole-word masking).</summary>
public interface IMaskingTokenizer : ITokenizer
{
    int MaskToken { get; }
    int PadToken { get; }
    /// <summary>[CLS], which starts every example (HF's tokenizers add it, and fill-mask adds it around the text).</summary>
    int ClsToken { get; }
    bool IsSpecial(int id);
    /// <summary>True for ids that are words of their own (whitespace, punctuation): a run of other ids forms one word.</summary>
    bool IsWordSeparator(int id);
    /// <summary>How a special id is written in text (e.g. "[MASK]").</summary>
    string SpecialText(int id);
}
