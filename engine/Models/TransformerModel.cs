using Engine.Layers;
using Engine.Optim;
using Engine.Parameters;
using Engine.Tensors;

namespace Engine.Models;

/// <summary>
/// A transformer language model with explicit forward and backward passes over one flat parameter buffer and one
/// activation arena. The family's layers live in an <see cref="INetwork"/> (GPT-2, BERT, T5); this class owns what
/// they share: memory, inputs on the backend, the fused softmax cross-entropy and reading results back.
/// </summary>
public sealed class TransformerModel : IDisposable
{
    /// <summary>GPT-2's word table (kept here for callers that predate the other families).</summary>
    public const string TokenTableName = DecoderOnlyNetwork.TokenTableName;
    public const string PositionTableName = DecoderOnlyNetwork.PositionTableName;

    readonly INetwork network;
    int logits, losses;
    ModelShape planned, last;
    bool gradientReady;
    Slice<int> keyMaskBuffer;
    bool hasShape;

    public TransformerConfig Config { get; }
    public IBackend Backend { get; }
    public ParameterLayout Layout { get; }
    public ModelMemory Memory { get; }
    public long ParameterCount => Layout.Count;
    /// <summary>Bytes of the activation arena for the current micro-batch shape (0 before the first step).</summary>
    public long ActivationBytes => Memory.Arena.Bytes;
    /// <summary>How activations (and, unsharded, the weights the layers read) are stored: fp32 or 16 bits.</summary>
    public StorageFormat ValueStorage { get; }
    /// <summary>How this model holds its parameters (replicated fp32, mixed with master weights, or an FSDP shard):
    /// its weights, gradients, master weights, the optimizer over them, and their gathering for checkpoints.</summary>
    public IParameterState ParameterState { get; }

    /// <param name="parameters">Builds the parameter state from the parameter layout (FSDP's store, for one); null =
    /// this process holds every parameter, in fp32 or, when the backend stores values in 16 bits, as a 16-bit copy of
    /// fp32 master weights (<see cref="WholeParameterStates.For"/>).</param>
    public TransformerModel(TransformerConfig config, IBackend backend, Func<ParameterLayout, IParameterState>? parameters = null)
    {
        config.Validate();
        Config = config;
        Backend = backend;
        if (config.Qat != null && backend.ValueStorage != StorageFormat.Native)
            throw new EngineException(EngineOption.Precision, $"quantization-aware training ({config.Qat}) runs in fp32: use {EngineOption.Precision} fp32");
        Layout = new ParameterLayout { Quantization = config.Qat };
        network = CreateNetwork(config, Layout);
        // Mixed precision's layer stores values in 16 bits: activations are stored so too.
        ValueStorage = backend.ValueStorage;
        ParameterState = parameters?.Invoke(Layout) ?? WholeParameterStates.For(backend, Layout);
        Memory = new ModelMemory { Backend = backend, Layout = Layout, Parameters = ParameterState.Weights, Gradients = ParameterState.Gradients, Store = ParameterState.Store };
    }

    /// <summary>The optimizer this model trains with, over what its parameter state holds (the weights, the master
    /// weights, or a shard); the optimizer itself sees flat buffers and segments.</summary>
    public AdamWOptimizer CreateOptimizer(AdamWSettings settings) => ParameterState.CreateOptimizer(settings);

    /// <summary>Sets every parameter from full host values in our layout (a sharded rank keeps its shard).</summary>
    public void CopyParametersIn(ReadOnlySpan<float> full)
    {
        if (full.Length != Layout.Count) throw new ArgumentException($"{full.Length} values for a model of {Layout.Count} parameters");
        ParameterState.LoadWeights(full);
    }

    /// <summary>Every parameter as full host values (the master weights under mixed precision); a collective on
    /// every rank when the parameter state says so (<see cref="IParameterState.IsCollective"/>).</summary>
    public void CopyParametersOut(Span<float> full)
    {
        if (full.Length != Layout.Count) throw new ArgumentException($"{full.Length} values for a model of {Layout.Count} parameters");
        ParameterState.GatherWeights(full);
    }

    static INetwork CreateNetwork(TransformerConfig config, ParameterLayout layout) => config.Family switch
    {
        ModelFamily.DecoderOnly => new DecoderOnlyNetwork(layout, config),
        ModelFamily.EncoderOnly => new EncoderOnlyNetwork(layout, config),
        ModelFamily.EncoderDecoder => new EncoderDecoderNetwork(layout, config),
        _ => throw new EngineException($"the {config.Family} family is not implemented"),
    };

    /// <summary>The parameter map of a config without allocating anything (the planner uses it).</summary>
    public static ParameterLayout LayoutOf(TransformerConfig config)
    {
        var layout = new ParameterLayout { Quantization = config.Qat };
        CreateNetwork(config, layout);
        return layout;
    }

    /// <summary>The activation plan for a micro-batch of B sequences of T tokens.</summary>
    public ActivationPlan PlanActivations(int B, int T) => PlanActivations(new ModelShape(B, T, 0));

    public ActivationPlan PlanActivations(ModelShape shape)
    {
        var plan = PlanActivations(Config, network, shape, ValueStorage, out logits, out losses);
        return plan;
    }

    /// <summary>
    /// The activation plan a model of this config would allocate for B × T (and a decoder length for an
    /// encoder-decoder), without allocating anything: `trainer plan` reports exactly what the engine will ask for.
    /// </summary>
    public static ActivationPlan PlanActivationsOf(TransformerConfig config, int B, int T, int decoderT = 0, StorageFormat values = StorageFormat.Native)
    {
        config.Validate();
        var network = CreateNetwork(config, new ParameterLayout { Quantization = config.Qat });
        return PlanActivations(config, network, new ModelShape(B, T, decoderT), values, out _, out _);
    }

    static ActivationPlan PlanActivations(TransformerConfig config, INetwork network, ModelShape shape, StorageFormat values, out int logits, out int losses)
    {
        var plan = new ActivationPlan(values);
        network.Plan(plan, shape);
        logits = plan.Add("logits", (long)shape.OutputRows * config.PaddedVocabSize);
        losses = plan.Add("losses", shape.OutputRows, ActivationKind.Statistic);
        plan.Layout();
        return plan;
    }

    void EnsureShape(ModelShape shape)
    {
        if (shape.B <= 0) throw new EngineException($"batch of {shape.B} sequences: must be positive");
        if (shape.T <= 0 || shape.T > Config.MaxPositions)
            throw new EngineException(EngineOption.SequenceLength, $"{EngineOption.SequenceLength} {shape.T} is outside 1..{Config.MaxPositions}, the model's position table ({EngineOption.MaxPositions})");
        if (hasShape && shape == planned) return;
        var m = Memory;
        if (hasShape)
        {
            Backend.Free(m.Arena); Backend.Free(m.Tokens); Backend.Free(m.Targets); Backend.Free(keyMaskBuffer);
            Backend.Free(m.PositionIds); Backend.Free(m.TokenTypes); Backend.Free(m.DecoderTokens);
            m.DecoderTokens = default;
        }
        var plan = PlanActivations(shape);
        int N = shape.B * shape.T;
        m.Activations = plan.Layout();
        m.Arena = Backend.Allocate<byte>(plan.TotalBytes, $"activations for micro-batch {shape.B} × {shape.T}");
        m.Tokens = Backend.Allocate<int>(N, "token ids");
        m.Targets = Backend.Allocate<int>(shape.OutputRows, "targets");
        keyMaskBuffer = Backend.Allocate<int>(N, "attention mask");
        m.TokenTypes = Backend.Allocate<int>(N, "token types");
        m.PositionIds = Backend.Allocate<int>(N, "position ids");
        if (shape.DecoderT > 0) m.DecoderTokens = Backend.Allocate<int>((long)shape.B * shape.DecoderT, "decoder input ids");
        var positions = new int[N];
        for (int i = 0; i < N; i++) positions[i] = i % shape.T;
        Backend.CopyIn<int>(positions, m.PositionIds);
        planned = shape;
        hasShape = true;
    }

    /// <summary>GPT-style call: B×T tokens, no mask, no token types.</summary>
    public double Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int B, int T, float gradientScale = 0)
    {
        if (tokens.Length != B * T) throw new ArgumentException($"{tokens.Length} tokens for a batch of {B} × {T}");
        return Forward(new ModelInputs(tokens.ToArray(), B, T), targets, gradientScale);
    }

    /// <summary>
    /// Runs the model. With targets (one per output row, −100 = not predicted), returns the summed cross-entropy over
    /// counted rows; when gradientScale ≠ 0 the logits are replaced by their gradient (scaled) ready for
    /// <see cref="Backward"/>. Without targets (empty span), only logits are computed and 0 is returned.
    /// </summary>
    public double Forward(ModelInputs inputs, ReadOnlySpan<int> targets, float gradientScale = 0)
    {
        var shape = inputs.Shape;
        int N = inputs.B * inputs.T;
        if (inputs.Tokens.Length != N) throw new ArgumentException($"{inputs.Tokens.Length} tokens for a batch of {inputs.B} × {inputs.T}");
        CheckIds(inputs.Tokens, "token");
        EnsureShape(shape);
        var m = Memory;
        Backend.CopyIn<int>(inputs.Tokens, m.Tokens);
        if (inputs.AttentionMask is { } mask)
        {
            if (mask.Length != N) throw new ArgumentException($"attention mask of {mask.Length} values for a batch of {inputs.B} × {inputs.T}");
            Backend.CopyIn<int>(mask, keyMaskBuffer);
            m.KeyMask = keyMaskBuffer;
        }
        else m.KeyMask = default;
        if (inputs.TokenTypes is { } types)
        {
            if (types.Length != N) throw new ArgumentException($"token types of {types.Length} values for a batch of {inputs.B} × {inputs.T}");
            foreach (int t in types)
                if ((uint)t >= (uint)Math.Max(1, Config.TokenTypes))
                    throw new EngineException($"token type {t} is outside the model's {Config.TokenTypes} token types");
            Backend.CopyIn<int>(types, m.TokenTypes);
        }
        else Backend.Zero(m.TokenTypes);
        if (Config.Family == ModelFamily.EncoderDecoder)
        {
            if (inputs.DecoderTokens is not { } decoderTokens || inputs.DecoderT <= 0)
                throw new EngineException("an encoder-decoder (T5) model needs decoder inputs (the targets shifted right, starting with the decoder start id)");
            if (decoderTokens.Length != inputs.B * inputs.DecoderT)
                throw new ArgumentException($"{decoderTokens.Length} decoder tokens for a batch of {inputs.B} × {inputs.DecoderT}");
            CheckIds(decoderTokens, "decoder input");
            Backend.CopyIn<int>(decoderTokens, m.DecoderTokens);
        }
        else if (inputs.DecoderTokens != null)
            throw new EngineException($"decoder inputs given to a {Config.Family} model, which has no decoder");

        ParameterState.BeginForward();
        network.Forward(m, shape, m.Activation(logits));
        last = shape;
        gradientReady = false;
        if (targets.IsEmpty) return 0;
        int rows = shape.OutputRows;
        if (targets.Length != rows) throw new ArgumentException($"{targets.Length} targets for {rows} output rows");
        Backend.CopyIn(targets, m.Targets);
        double sum = Backend.SoftmaxCrossEntropy(m.Activation(logits), m.Activation(losses), m.Targets, rows, Config.VocabSize, Config.PaddedVocabSize, gradientScale);
        gradientReady = gradientScale != 0;
        return sum;
    }

    void CheckIds(int[] ids, string what)
    {
        foreach (int id in ids)
            if ((uint)id >= (uint)Config.VocabSize)
                throw new EngineException($"{what} id {id} is outside the model's vocabulary of {Config.VocabSize}: prepare the data with the model's tokenizer");
    }

    /// <summary>Accumulates parameter gradients of the last forward (which must have had a gradient scale).</summary>
    public void Backward()
    {
        if (!gradientReady) throw new InvalidOperationException("Backward needs a Forward with targets and a non-zero gradient scale first");
        network.Backward(Memory, last, Memory.Activation(logits));
        ParameterState.EndBackward();
        gradientReady = false;
    }

    public void ZeroGradients() => ParameterState.ZeroGradients();

    /// <summary>Copies one output row's logits (the real vocabulary only) after a Forward without gradient.</summary>
    public void ReadLogits(int row, Span<float> destination)
    {
        var all = Memory.Activation(logits);
        Backend.CopyOut(all.Sub((long)row * Config.PaddedVocabSize, Config.VocabSize), destination);
    }

    /// <summary>Per-row losses of the last Forward with targets.</summary>
    public float[] ReadLosses()
    {
        var result = new float[last.OutputRows];
        Backend.CopyOut(Memory.Activation(losses).Sub(0, result.Length), result);
        return result;
    }

    public void Dispose() => ParameterState.Dispose();
}
