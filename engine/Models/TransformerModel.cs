using Engine.Layers;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// A transformer language model with explicit forward and backward passes over one flat parameter buffer and one
/// activation arena. Decoder-only (GPT-2: pre-LN blocks, learned positions, tied head) is implemented here; the
/// encoder and encoder-decoder families plug into the same shape.
/// </summary>
public sealed class TransformerModel : IDisposable
{
    public const string TokenTableName = "transformer.wte.weight";
    public const string PositionTableName = "transformer.wpe.weight";

    readonly ParameterInfo tokenTable, positionTable;
    readonly PreNormBlock[] blocks;
    readonly LayerNormLayer finalNorm;
    int embedded, logits, losses, dResidual, dNormalized;
    int plannedB, plannedT, lastB, lastT;
    bool gradientReady;

    public TransformerConfig Config { get; }
    public IBackend Backend { get; }
    public ParameterLayout Layout { get; }
    public ModelMemory Memory { get; }
    public long ParameterCount => Layout.Count;
    /// <summary>Bytes of the activation arena for the current micro-batch shape (0 before the first step).</summary>
    public long ActivationBytes => Memory.Arena.Bytes;

    public TransformerModel(TransformerConfig config, IBackend backend)
    {
        config.Validate();
        if (config.Family != ModelFamily.DecoderOnly)
            throw new EngineException($"the {config.Family} family is not implemented yet: use a gpt2-* preset (--objective clm)");
        Config = config;
        Backend = backend;
        Layout = BuildLayout(config, out tokenTable, out positionTable, out blocks, out finalNorm);
        var parameters = backend.Allocate<float>(Layout.Count, "parameters");
        var gradients = backend.Allocate<float>(Layout.Count, "gradients");
        Memory = new ModelMemory { Backend = backend, Layout = Layout, Parameters = parameters, Gradients = gradients };
    }

    /// <summary>The parameter map of a config without allocating anything (the planner uses it).</summary>
    public static ParameterLayout LayoutOf(TransformerConfig config) => BuildLayout(config, out _, out _, out _, out _);

    static ParameterLayout BuildLayout(TransformerConfig c, out ParameterInfo wte, out ParameterInfo wpe, out PreNormBlock[] blocks, out LayerNormLayer lnf)
    {
        var layout = new ParameterLayout();
        wte = layout.Add(TokenTableName, new[] { c.PaddedVocabSize, c.Dim });
        wpe = layout.Add(PositionTableName, new[] { c.MaxPositions, c.Dim });
        blocks = new PreNormBlock[c.Layers];
        for (int l = 0; l < c.Layers; l++) blocks[l] = new PreNormBlock(layout, $"transformer.h.{l}", c, causal: true);
        lnf = new LayerNormLayer(layout, "transformer.ln_f", c.Dim, c.LayerNormEpsilon);
        return layout;
    }

    /// <summary>The activation plan for a micro-batch of B sequences of T tokens.</summary>
    public ActivationPlan PlanActivations(int B, int T)
    {
        var plan = PlanActivations(Config, blocks, finalNorm, B, T, out var regions);
        (embedded, logits, losses, dResidual, dNormalized) = regions;
        return plan;
    }

    /// <summary>
    /// The activation plan a model of this config would allocate for B × T, without allocating anything: `trainer
    /// plan` reports exactly what the engine will ask for.
    /// </summary>
    public static ActivationPlan PlanActivationsOf(TransformerConfig config, int B, int T)
    {
        config.Validate();
        BuildLayout(config, out _, out _, out var blocks, out var finalNorm);
        return PlanActivations(config, blocks, finalNorm, B, T, out _);
    }

    static ActivationPlan PlanActivations(TransformerConfig config, PreNormBlock[] blocks, LayerNormLayer finalNorm, int B, int T,
        out (int Embedded, int Logits, int Losses, int DResidual, int DNormalized) regions)
    {
        var plan = new ActivationPlan();
        long N = (long)B * T;
        regions.Embedded = plan.Add("embedding.out", N * config.Dim);
        for (int l = 0; l < blocks.Length; l++) blocks[l].Plan(plan, $"h.{l}", B, T);
        finalNorm.Plan(plan, "ln_f", (int)N);
        regions.Logits = plan.Add("logits", N * config.PaddedVocabSize);
        regions.Losses = plan.Add("losses", N);
        regions.DResidual = plan.AddShared(GradientScratch.Residual, N * config.Dim);
        regions.DNormalized = plan.AddShared(GradientScratch.Normalized, N * config.Dim);
        plan.Layout();
        return plan;
    }

    void EnsureShape(int B, int T)
    {
        if (B <= 0) throw new EngineException($"batch of {B} sequences: must be positive");
        if (T <= 0 || T > Config.MaxPositions)
            throw new EngineException($"--seq {T} is outside 1..{Config.MaxPositions}, the model's position table (--max-positions)");
        if (B == plannedB && T == plannedT) return;
        if (!Memory.Arena.IsEmpty) { Backend.Free(Memory.Arena); Backend.Free(Memory.Tokens); Backend.Free(Memory.Targets); }
        var plan = PlanActivations(B, T);
        Memory.Arena = Backend.Allocate<float>(plan.TotalCount, $"activations for micro-batch {B} × {T}");
        Memory.Activations = plan.Layout();
        Memory.Tokens = Backend.Allocate<int>((long)B * T, "token ids");
        Memory.Targets = Backend.Allocate<int>((long)B * T, "targets");
        plannedB = B; plannedT = T;
    }

    /// <summary>
    /// Runs the model on B×T tokens. With targets, returns the summed cross-entropy over counted positions; when
    /// gradientScale ≠ 0 the logits are replaced by their gradient (scaled) ready for <see cref="Backward"/>.
    /// Without targets (empty span), only logits are computed and 0 is returned.
    /// </summary>
    public double Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int B, int T, float gradientScale = 0)
    {
        EnsureShape(B, T);
        if (tokens.Length != B * T) throw new ArgumentException($"{tokens.Length} tokens for a batch of {B} × {T}");
        foreach (int id in tokens)
            if ((uint)id >= (uint)Config.VocabSize)
                throw new EngineException($"token id {id} is outside the model's vocabulary of {Config.VocabSize}: prepare the data with the model's tokenizer");
        var m = Memory;
        Backend.CopyIn(tokens, m.Tokens);
        int N = B * T, C = Config.Dim;
        Backend.EmbeddingForward(m.Activation(embedded), m.Tokens, m.Parameter(tokenTable), m.Parameter(positionTable), B, T, C);
        var x = m.Activation(embedded);
        foreach (var block in blocks) x = block.Forward(m, x, B, T);
        var normalized = finalNorm.Forward(m, x, N);
        Backend.MatmulForward(m.Activation(logits), normalized, m.Parameter(tokenTable), default, N, C, Config.PaddedVocabSize);
        lastB = B; lastT = T;
        gradientReady = false;
        if (targets.IsEmpty) return 0;
        if (targets.Length != N) throw new ArgumentException($"{targets.Length} targets for a batch of {B} × {T}");
        Backend.CopyIn(targets, m.Targets);
        double sum = Backend.SoftmaxCrossEntropy(m.Activation(logits), m.Activation(losses), m.Targets, N, Config.VocabSize, Config.PaddedVocabSize, gradientScale);
        gradientReady = gradientScale != 0;
        return sum;
    }

    /// <summary>Accumulates parameter gradients of the last forward (which must have had a gradient scale).</summary>
    public void Backward()
    {
        if (!gradientReady) throw new InvalidOperationException("Backward needs a Forward with targets and a non-zero gradient scale first");
        var m = Memory;
        int B = lastB, T = lastT, N = B * T, C = Config.Dim;
        var dLogits = m.Activation(logits);
        var dx = GradientScratch.Fresh(m, dResidual);
        var lastResidual = blocks.Length == 0 ? m.Activation(embedded) : OutputOf(blocks.Length - 1);
        var dNorm = GradientScratch.Fresh(m, dNormalized);
        Backend.MatmulBackward(dNorm, m.Gradient(tokenTable), default, dLogits, finalNorm.Output(m), m.Parameter(tokenTable), N, C, Config.PaddedVocabSize);
        finalNorm.Backward(m, dx, dNorm, lastResidual, N);
        for (int l = blocks.Length - 1; l >= 0; l--)
            blocks[l].Backward(m, dx, l == 0 ? m.Activation(embedded) : OutputOf(l - 1), B, T);
        Backend.EmbeddingBackward(m.Gradient(tokenTable), m.Gradient(positionTable), dx, m.Tokens, B, T, C);
        gradientReady = false;
    }

    Slice<float> OutputOf(int block) => blocks[block].OutputSlice(Memory);

    public void ZeroGradients() => Backend.Zero(Memory.Gradients);

    /// <summary>Copies one position's logits (the real vocabulary only) after a Forward without gradient.</summary>
    public void ReadLogits(int row, Span<float> destination)
    {
        var all = Memory.Activation(logits);
        Backend.CopyOut(all.Sub((long)row * Config.PaddedVocabSize, Config.VocabSize), destination);
    }

    /// <summary>Per-row losses of the last Forward with targets.</summary>
    public float[] ReadLosses()
    {
        var result = new float[lastB * lastT];
        Backend.CopyOut(Memory.Activation(losses).Sub(0, result.Length), result);
        return result;
    }

    public void Dispose() { }
}
