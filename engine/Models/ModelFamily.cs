namespace Engine.Models;

/// <summary>The three transformer families the engine pre-trains.</summary>
public enum ModelFamily
{
    /// <summary>GPT: causal self-attention, next-token prediction.</summary>
    DecoderOnly,
    /// <summary>BERT/RoBERTa: bidirectional self-attention, masked LM.</summary>
    EncoderOnly,
    /// <summary>T5: encoder + causal decoder with cross-attention, span corruption.</summary>
    EncoderDecoder,
}
