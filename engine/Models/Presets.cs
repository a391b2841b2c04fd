namespace Engine.Models;

/// <summary>Named model sizes. GPT-2 sizes follow OpenAI's released checkpoints (HF GPT2LMHeadModel).</summary>
public static class Presets
{
    public const string Default = "gpt2-tiny";
    /// <summary>GPT-2's BPE vocabulary; its end-of-text token is the last id.</summary>
    const int Gpt2Vocab = 50257;

    static TransformerConfig Gpt2(int layers, int dim, int heads, int vocab = Gpt2Vocab, int positions = 1024) => new()
    {
        Family = ModelFamily.DecoderOnly,
        VocabSize = vocab,
        PaddedVocabSize = vocab,
        MaxPositions = positions,
        Layers = layers,
        Dim = dim,
        Heads = heads,
        FeedForwardDim = 4 * dim,
        LayerNormEpsilon = 1e-5,
        EndOfTextToken = vocab - 1,
    };

    /// <summary>BERT's WordPiece vocabulary (bert-base-uncased).</summary>
    const int BertVocab = 30522;

    static TransformerConfig Bert(int layers, int dim, int heads, int vocab = BertVocab, int positions = 512) => new()
    {
        Family = ModelFamily.EncoderOnly,
        VocabSize = vocab,
        PaddedVocabSize = vocab,
        MaxPositions = positions,
        Layers = layers,
        Dim = dim,
        Heads = heads,
        FeedForwardDim = 4 * dim,
        TokenTypes = 2,
        LayerNormEpsilon = 1e-12,
        PadToken = 0,
        EndOfTextToken = 102, // [SEP] in bert-base-uncased's vocabulary
    };

    /// <summary>T5's SentencePiece vocabulary as the released checkpoints store it (32100 ids padded to 32128).</summary>
    const int T5Vocab = 32128;

    /// <summary>
    /// T5 v1.1 (HF T5ForConditionalGeneration, google/t5-v1_1-*): RMSNorm (ε 1e-6), relative position buckets 32/128,
    /// gated GELU, no biases, untied head, d_kv 64. Pad 0, EOS 1, the decoder starts from pad.
    /// </summary>
    static TransformerConfig T5(int layers, int dim, int heads, int ffn, int headDim = 64, int vocab = T5Vocab) => new()
    {
        Family = ModelFamily.EncoderDecoder,
        VocabSize = vocab,
        PaddedVocabSize = vocab,
        MaxPositions = 512, // no position table: relative buckets serve any length; this is HF's n_positions
        Layers = layers,
        DecoderLayers = layers,
        Dim = dim,
        Heads = heads,
        HeadDim = headDim,
        FeedForwardDim = ffn,
        LayerNormEpsilon = 1e-6,
        RelativeAttentionBuckets = 32,
        RelativeAttentionMaxDistance = 128,
        TiedHead = false,
        PadToken = 0,
        EndOfTextToken = 1,
        DecoderStartToken = 0,
    };

    static readonly Dictionary<string, (TransformerConfig Config, string Description)> All = new()
    {
        // Sized so the default run learns the embedded corpus in a few minutes on 2 CPU cores; the vocabulary is the
        // byte tokenizer's 256 bytes + end-of-text, replaced by the data's own when the run's data says otherwise.
        ["gpt2-tiny"] = (Gpt2(layers: 4, dim: 128, heads: 4, vocab: 257, positions: 256), "4 layers, 128 wide, 4 heads (CPU default; the vocabulary is the data's tokenizer's)"),
        ["gpt2-small"] = (Gpt2(12, 768, 12), "124M: 12 layers, 768 wide, 12 heads"),
        ["gpt2-medium"] = (Gpt2(24, 1024, 16), "355M: 24 layers, 1024 wide, 16 heads"),
        ["gpt2-large"] = (Gpt2(36, 1280, 20), "774M: 36 layers, 1280 wide, 20 heads"),
        ["gpt2-xl"] = (Gpt2(48, 1600, 25), "1.5B: 48 layers, 1600 wide, 25 heads"),
        // BERT sizes follow Google's released checkpoints (HF BertForMaskedLM); bert-tiny and bert-mini are the
        // "well-read students" sizes (Turc et al. 2019). The vocabulary is replaced by the tokenizer's when training.
        ["bert-tiny"] = (Bert(2, 128, 2), "4.4M: 2 layers, 128 wide, 2 heads (CPU default for the mlm objective)"),
        ["bert-mini"] = (Bert(4, 256, 4), "11M: 4 layers, 256 wide, 4 heads"),
        ["bert-base"] = (Bert(12, 768, 12), "110M: 12 layers, 768 wide, 12 heads"),
        ["bert-large"] = (Bert(24, 1024, 16), "335M: 24 layers, 1024 wide, 16 heads"),
        // T5 v1.1 sizes (google/t5-v1_1-small/base/large); t5-tiny is ours, sized for the CPU default span run with the
        // byte-span tokenizer's vocabulary (replaced by the tokenizer's when training).
        ["t5-tiny"] = (T5(2, 128, 4, 256, headDim: 32, vocab: 359), "2+2 layers, 128 wide, 4 heads (CPU default for the span objective, byte vocabulary)"),
        ["t5-small"] = (T5(8, 512, 6, 1024), "77M: 8+8 layers, 512 wide, 6 heads of 64, gated FFN 1024"),
        ["t5-base"] = (T5(12, 768, 12, 2048), "248M: 12+12 layers, 768 wide, 12 heads, gated FFN 2048"),
        ["t5-large"] = (T5(24, 1024, 16, 2816), "783M: 24+24 layers, 1024 wide, 16 heads, gated FFN 2816"),
    };

    public static IEnumerable<string> Names => All.Keys;

    public static string Describe(string name) => All[name].Description;

    public static TransformerConfig Get(string name) =>
        All.TryGetValue(name, out var preset) ? preset.Config
            : throw new EngineException(EngineOption.Model, $"{EngineOption.Model} {name} is not a preset: choose one of {string.Join(", ", All.Keys)} (or a model folder)");
}
