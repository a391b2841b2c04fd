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

    static readonly Dictionary<string, (TransformerConfig Config, string Description)> All = new()
    {
        // Sized so the default run learns the embedded corpus in a few minutes on 2 CPU cores; the vocabulary is the
        // byte tokenizer's 256 bytes + end-of-text, replaced by the data's own when --data says otherwise.
        ["gpt2-tiny"] = (Gpt2(layers: 4, dim: 128, heads: 4, vocab: 257, positions: 256), "4 layers, 128 wide, 4 heads (CPU default, byte vocabulary)"),
        ["gpt2-small"] = (Gpt2(12, 768, 12), "124M: 12 layers, 768 wide, 12 heads"),
        ["gpt2-medium"] = (Gpt2(24, 1024, 16), "355M: 24 layers, 1024 wide, 16 heads"),
        ["gpt2-large"] = (Gpt2(36, 1280, 20), "774M: 36 layers, 1280 wide, 20 heads"),
        ["gpt2-xl"] = (Gpt2(48, 1600, 25), "1.5B: 48 layers, 1600 wide, 25 heads"),
    };

    public static IEnumerable<string> Names => All.Keys;
    public static string Describe(string name) => All[name].Description;

    public static TransformerConfig Get(string name) =>
        All.TryGetValue(name, out var preset) ? preset.Config
            : throw new EngineException($"--model {name} is not a preset: choose one of {string.Join(", ", All.Keys)} (or a model folder)");
}
