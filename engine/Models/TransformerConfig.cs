namespace Engine.Models;

/// <summary>
/// Everything that decides a model's shape and semantics. One code path serves every family; each preset fixes these
/// fields to a HuggingFace architecture's exact behaviour.
/// </summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record TransformerConfig
{
    public ModelFamily Family { get; init; } = ModelFamily.DecoderOnly;
    public int VocabSize { get; init; }
    /// <summary>The vocabulary rounded up (e.g. 50257 → 50304) so matrix products use friendly sizes; extra rows never win.</summary>
    public int PaddedVocabSize { get; init; }
    public int MaxPositions { get; init; }
    public int Layers { get; init; }
    public int Dim { get; init; }
    public int Heads { get; init; }
    public int FeedForwardDim { get; init; }
    public double LayerNormEpsilon { get; init; } = 1e-5;
    /// <summary>The token id that ends a document (and seeds generation when the prompt is empty).</summary>
    public int EndOfTextToken { get; init; }

    /// <summary>BERT's token-type (segment) table size (type_vocab_size); 0 = no such table.</summary>
    public int TokenTypes { get; init; }
    /// <summary>The padding id: its word-embedding row gets no gradient from lookups (torch's padding_idx, BERT); −1 = none.</summary>
    public int PadToken { get; init; } = -1;
    /// <summary>Per-head width; 0 = Dim / Heads. T5 sets it (d_kv), so heads·HeadSize may differ from Dim.</summary>
    public int HeadDim { get; init; }

    /// <summary>T5: decoder layers (num_decoder_layers); <see cref="Layers"/> counts the encoder's. 0 = as many as the encoder.</summary>
    public int DecoderLayers { get; init; }
    /// <summary>T5's relative position buckets (relative_attention_num_buckets); 0 = learned absolute positions instead.</summary>
    public int RelativeAttentionBuckets { get; init; }
    /// <summary>T5: distances at or beyond this share the last bucket (relative_attention_max_distance).</summary>
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    /// <summary>The output head reuses the word table (tie_word_embeddings). GPT-2 and BERT always do; T5 v1.1 does not.</summary>
    public bool TiedHead { get; init; } = true;
    /// <summary>
    /// T5 with a tied head multiplies the decoder output by d_model^−0.5 before the head (HF's scale_decoder_outputs;
    /// in transformers 4 implied by tie_word_embeddings, in 5 its own flag).
    /// </summary>
    public bool ScaleDecoderOutput { get; init; }
    /// <summary>T5: the id the decoder starts from (decoder_start_token_id; the padding id in every T5).</summary>
    public int DecoderStartToken { get; init; }

    /// <summary>Quantization-aware training: the linear layers fake-quantize their weights (and inputs) with learnt
    /// steps (<see cref="Tensors.QuantizationScheme"/>); null = plain fp32 layers.</summary>
    public Tensors.QuantizationScheme? Qat { get; init; }

    public int DecoderLayerCount => DecoderLayers > 0 ? DecoderLayers : Layers;
    public int HeadSize => HeadDim > 0 ? HeadDim : Dim / Heads;
    /// <summary>Width of the attention's q, k, v (heads · head size).</summary>
    public int AttentionDim => Heads * HeadSize;

    /// <summary>Rounds the vocabulary up to a multiple (128 is what GPU matrix products like).</summary>
    public TransformerConfig WithVocabPaddedTo(int multiple) =>
        this with { PaddedVocabSize = (VocabSize + multiple - 1) / multiple * multiple };

    /// <summary>Throws an error naming the option to change when the shape is impossible.</summary>
    public void Validate()
    {
        void Positive(int value, EngineOption option) { if (value <= 0) throw new EngineException(option, $"{option} must be a positive number (got {value})"); }
        Positive(VocabSize, EngineOption.VocabSize);
        Positive(MaxPositions, EngineOption.MaxPositions);
        Positive(Layers, EngineOption.Layers);
        Positive(Dim, EngineOption.Dim);
        Positive(Heads, EngineOption.Heads);
        Positive(FeedForwardDim, EngineOption.FeedForwardDim);
        if (HeadDim < 0) throw new EngineException($"head size {HeadDim} must be positive");
        if (HeadDim == 0 && Dim % Heads != 0)
            throw new EngineException(EngineOption.Heads, $"{EngineOption.Heads} {Heads} does not divide {EngineOption.Dim} {Dim}: choose heads that divide the width (e.g. {EngineOption.Heads} {LargestDivisorAtMost(Dim, Heads)})");
        if (PaddedVocabSize < VocabSize)
            throw new EngineException($"padded vocabulary {PaddedVocabSize} is smaller than the vocabulary {VocabSize}");
        if (EndOfTextToken < 0 || EndOfTextToken >= VocabSize)
            throw new EngineException($"end-of-text token {EndOfTextToken} is outside the vocabulary of {VocabSize}");
        if (PadToken >= VocabSize) throw new EngineException($"padding token {PadToken} is outside the vocabulary of {VocabSize}");
        if (Family == ModelFamily.EncoderDecoder && RelativeAttentionBuckets < 2)
            throw new EngineException($"an encoder-decoder (T5) model needs relative position buckets (relative_attention_num_buckets ≥ 2, got {RelativeAttentionBuckets})");
        if (Family == ModelFamily.EncoderDecoder && RelativeAttentionMaxDistance < RelativeAttentionBuckets / 2)
            throw new EngineException($"relative_attention_max_distance {RelativeAttentionMaxDistance} must be at least half the buckets ({RelativeAttentionBuckets / 2})");
        if (Family == ModelFamily.EncoderDecoder && (DecoderStartToken < 0 || DecoderStartToken >= VocabSize))
            throw new EngineException($"decoder start token {DecoderStartToken} is outside the vocabulary of {VocabSize}");
        Qat?.Validate();
        if (Family == ModelFamily.EncoderOnly && TokenTypes <= 0)
            throw new EngineException("an encoder-only (BERT) model needs a token-type table (type_vocab_size ≥ 1)");
    }

    static int LargestDivisorAtMost(int n, int max)
    {
        for (int d = Math.Min(n, max); d > 1; d--) if (n % d == 0) return d;
        return 1;
    }
}
