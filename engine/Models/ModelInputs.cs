namespace Engine.Models;

/// <summary>
/// One micro-batch as host arrays: B×T token ids and what some families need beside them. BERT reads the key
/// padding mask and token types; T5 reads the mask for its encoder and B×DecoderT decoder inputs.
/// </summary>
public sealed record ModelInputs(int[] Tokens, int B, int T)
{
    /// <summary>(B, T): 1 = a real token, 0 = padding that no query may attend to (HF's attention_mask). Null = all real.</summary>
    public int[]? AttentionMask { get; init; }
    /// <summary>(B, T) segment ids (BERT's token_type_ids). Null = all 0.</summary>
    public int[]? TokenTypes { get; init; }
    /// <summary>(B, DecoderT) decoder inputs of an encoder-decoder model (targets shifted right).</summary>
    public int[]? DecoderTokens { get; init; }
    public int DecoderT { get; init; }

    public ModelShape Shape => new(B, T, DecoderTokens == null ? 0 : DecoderT);
}

/// <summary>The sizes an activation arena is planned for.</summary>
/// <param name="DecoderT">Decoder length of an encoder-decoder model; 0 for the other families.</param>
public readonly record struct ModelShape(int B, int T, int DecoderT)
{
    /// <summary>Rows of logits (and targets): the decoder's positions when there is a decoder.</summary>
    public int OutputRows => B * (DecoderT > 0 ? DecoderT : T);
}
