using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Distributed;
using Engine.Models;
using Engine.Objectives;
using Engine.Optim;
using Engine.Tensors;
using Engine.Tokenizers;
using Engine.Util;

namespace Engine.Training;

/// <summary>A built training run: everything the loop needs plus what the caller shows afterwards.</summary>
public sealed class PreparedRun : IDisposable
{
    public required IBackend Backend { get; init; }
    public required TransformerModel Model { get; init; }
    public required ITokenizer Tokenizer { get; init; }
    public required TrainingLoop Loop { get; init; }
    /// <summary>The run folder; only rank 0 writes to it.</summary>
    public required RunFolder Folder { get; init; }
    /// <summary>The ranks of this launch (a single process unless launched by mpirun with --strategy ddp).</summary>
    public required ICommunicator Communicator { get; init; }
    public bool IsLeader => Communicator.Rank == 0;
    public required string DeviceNote { get; init; }
    /// <summary>Prompts to show a sample for (the embedded corpus's held-out shorthand), possibly empty.</summary>
    public required IReadOnlyList<string> SamplePrompts { get; init; }
    public bool Resumed { get; init; }

    /// <summary>The model first: under hybrid FSDP it owns the shard and replica groups split from the communicator,
    /// whose NCCL watchdogs poll the GPU's events from their own threads; left running past Backend.Dispose, they
    /// query events of a released context and fail a finished run (exit 1). Then the communicator, then the device.</summary>
    public void Dispose()
    {
        Model.Dispose();
        Communicator.Dispose();
        Backend.Dispose();
    }
}

/// <summary>Turns <see cref="TrainOptions"/> into a ready run: data, tokenizer, model, optimizer, run folder; or resumes one.</summary>
public static class TrainingJob
{
    public const string EmbeddedData = "embedded";

    public static PreparedRun Prepare(TrainOptions options)
    {
        if (options.Objective is not (CausalLanguageModeling.Name or MaskedLanguageModeling.Name or SpanLanguageModeling.Name))
            throw new EngineException($"--objective {options.Objective}: choose clm, mlm or span");
        return options.Resume != null ? PrepareResume(options) : PrepareFresh(options);
    }

    static PreparedRun PrepareFresh(TrainOptions options)
    {
        var settings = options.Settings;
        settings.Validate();
        var (tokenizer, dataName, train, validation, prompts) = OpenData(options.Data, options.Objective, options.EmbeddedText);
        var config = BuildConfig(options, tokenizer);
        if (settings.SequenceLength > config.MaxPositions)
            throw new EngineException($"--seq {settings.SequenceLength} exceeds the model's {config.MaxPositions} positions: lower --seq or raise --max-positions");
        var launch = Launch(options);
        string outPath = options.Out ?? RunFolder.DefaultPath(options.Objective);
        // Every rank checks before any rank writes (rank 0 creates the folder only after the barrier below), so all
        // ranks see the same answer and fail together.
        if (File.Exists(Path.Combine(outPath, "metrics.jsonl")) || Directory.Exists(Path.Combine(outPath, "checkpoint")))
            throw new EngineException($"--out {outPath} already holds a run: continue it with --resume {outPath}, or choose a new --out");
        var backend = CreateBackend(options, settings, launch, out string note);
        ICommunicator? comm = null;
        TransformerModel? model = null;
        try
        {
            comm = CommunicatorFactory.Create(backend, launch, dataParallel: options.Strategy != "none");
            comm.Barrier();
            var folder = RunFolder.For(outPath, writer: comm.Rank == 0);
            model = CreateModel(config, backend, comm, options);
            Initialization.Initialize(model, new Rng(settings.Seed));
            var optimizer = model.CreateOptimizer(settings.AdamW);
            var objective = CreateObjective(options.Objective, settings, tokenizer, train, validation);
            var state = new TrainerState { Model = config, Settings = settings, Tokenizer = tokenizer.Name, Objective = options.Objective, Data = dataName };
            return new PreparedRun
            {
                Backend = backend, Model = model, Tokenizer = tokenizer, Folder = folder, DeviceNote = note, SamplePrompts = prompts, Communicator = comm,
                Loop = new TrainingLoop(model, optimizer, objective, state, comm.Rank == 0 ? folder : null, tokenizer, comm),
            };
        }
        catch { model?.Dispose(); comm?.Dispose(); backend.Dispose(); throw; }
    }

    static PreparedRun PrepareResume(TrainOptions options)
    {
        string checkpoint = Checkpoint.Locate(options.Resume!);
        var saved = TrainerState.Read(checkpoint)
                    ?? throw new EngineException($"--resume {options.Resume}: {checkpoint} has weights but no {Checkpoint.StateFile}; to start a new run from these weights use --model {checkpoint}");
        var settings = options.StepsGiven ? saved.Settings with { Steps = options.Settings.Steps } : saved.Settings;
        settings.Validate();
        // A vocabulary saved with the checkpoint is the one the weights were trained with: use it, never a rebuilt one.
        var savedTokenizer = saved.Tokenizer == WordMlmTokenizer.SpecName ? WordMlmTokenizer.Load(checkpoint) : null;
        var (tokenizer, _, train, validation, prompts) = OpenData(saved.Data == EmbeddedData ? null : saved.Data, saved.Objective, options.EmbeddedText, savedTokenizer);
        var launch = Launch(options);
        var backend = CreateBackend(options, settings, launch, out string note);
        ICommunicator? comm = null;
        TransformerModel? model = null;
        try
        {
            comm = CommunicatorFactory.Create(backend, launch, dataParallel: options.Strategy != "none");
            // The run folder is the checkpoint's parent unless --out moves it. The checkpoint holds one global data
            // position and full weights, so any world size resumes it.
            var folder = RunFolder.For(options.Out ?? Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, writer: comm.Rank == 0);
            model = CreateModel(saved.Model, backend, comm, options);
            Checkpoint.LoadWeights(checkpoint, model);
            var optimizer = model.CreateOptimizer(settings.AdamW);
            // AdamW counts its own updates (bias correction): every step but those fp16 skipped on overflow.
            Checkpoint.LoadOptimizer(checkpoint, optimizer, model, saved.Step - (int)saved.SkippedSteps);
            var objective = CreateObjective(saved.Objective, settings, tokenizer, train, validation);
            objective.RestoreState(saved.DataState);
            return new PreparedRun
            {
                Backend = backend, Model = model, Tokenizer = tokenizer, Folder = folder, DeviceNote = note, SamplePrompts = prompts, Resumed = true, Communicator = comm,
                Loop = new TrainingLoop(model, optimizer, objective, saved with { Settings = settings }, comm.Rank == 0 ? folder : null, tokenizer, comm),
            };
        }
        catch { model?.Dispose(); comm?.Dispose(); backend.Dispose(); throw; }
    }

    /// <summary>The model with every parameter (none, ddp) or this rank's shard of them (fsdp).</summary>
    static TransformerModel CreateModel(TransformerConfig config, IBackend backend, ICommunicator comm, TrainOptions options) =>
        options.Strategy == "fsdp"
            ? new TransformerModel(config, backend, layout => new FullyShardedParameters(backend, comm, layout, options.Fsdp))
            : new TransformerModel(config, backend);



    /// <summary>The device's backend, under the 16-bit storage layer when --precision asks for mixed precision.</summary>
    static IBackend CreateBackend(TrainOptions options, TrainingSettings settings, LaunchEnvironment launch, out string note)
    {
        var precision = settings.PrecisionMode;
        var device = BackendFactory.Create(options.Device, out note, launch.LocalRank);
        if (precision == Precision.PrecisionMode.Fp32) return device;
        try
        {
            var mixed = new Backends.Mixed.MixedPrecisionBackend(device, precision);
            note += $"; {settings.Precision} mixed precision: activations and the weights' copy stored in {settings.Precision}, fp32 arithmetic, master weights and gradients"
                + (device.IsHost ? "" : $", matrix products on {settings.Precision} tensor cores");
            return mixed;
        }
        catch { device.Dispose(); throw; }
    }

    /// <summary>The launch this process belongs to, checked against --strategy.</summary>
    static LaunchEnvironment Launch(TrainOptions options)
    {
        var launch = LaunchEnvironment.Detect();
        if (options.Strategy != "fsdp" && options.Fsdp != new FsdpOptions())
            throw new EngineException($"--reshard-after-forward, --sharding-factor, --cpu-offload and --fsdp-overlap shape FSDP: add --strategy fsdp (the strategy is {options.Strategy})");
        switch (options.Strategy)
        {
            case "none" when launch.IsDistributed:
                throw new EngineException($"launched as rank {launch.Rank} of {launch.WorldSize} by {launch.Launcher} but --strategy is none: add --strategy ddp (replicas) or --strategy fsdp (sharded) to train data-parallel");
            case "fsdp":
                options.Fsdp.GroupSize(launch.WorldSize); // a sharding factor that does not divide the world fails here, on every rank, before any work
                return launch;
            case "none" or "ddp":
                return launch;
            default:
                throw new EngineException($"--strategy {options.Strategy} is not one of none, ddp, fsdp");
        }
    }

    static IBatchSource CreateObjective(string objective, TrainingSettings settings, ITokenizer tokenizer, TokenDataset train, TokenDataset validation) => objective switch
    {
        MaskedLanguageModeling.Name => new MaskedLanguageModeling(train, validation, MaskingTokenizer(tokenizer), settings.MaskProbability, settings.WholeWordMasking, settings.Seed),
        SpanLanguageModeling.Name => new SpanLanguageModeling(train, validation, SpanTokenizer(tokenizer), settings.SequenceLength, settings.NoiseDensity, settings.MeanSpanLength, settings.Seed),
        _ => new CausalLanguageModeling(train, validation),
    };

    static IMaskingTokenizer MaskingTokenizer(ITokenizer tokenizer) => tokenizer as IMaskingTokenizer
        ?? throw new EngineException($"--objective mlm needs a tokenizer with [MASK] and [PAD] tokens; the data's tokenizer '{tokenizer.Name}' has none: prepare it with `trainer prepare --tokenizer {ByteMlmTokenizer.SpecName} …`");

    static ISpanTokenizer SpanTokenizer(ITokenizer tokenizer) => tokenizer as ISpanTokenizer
        ?? throw new EngineException($"--objective span needs a tokenizer with sentinel tokens (<extra_id_N>) and a pad id; the data's tokenizer '{tokenizer.Name}' has none: prepare it with `trainer prepare --tokenizer {ByteSpanTokenizer.SpecName} …`");

    /// <summary>The family each objective trains.</summary>
    static ModelFamily FamilyOf(string objective) => objective switch
    {
        MaskedLanguageModeling.Name => ModelFamily.EncoderOnly,
        SpanLanguageModeling.Name => ModelFamily.EncoderDecoder,
        _ => ModelFamily.DecoderOnly,
    };

    static TransformerConfig BuildConfig(TrainOptions o, ITokenizer tokenizer)
    {
        string name = o.Model ?? Presets.DefaultFor(o.Objective);
        var preset = Presets.Get(name);
        if (preset.Family != FamilyOf(o.Objective))
            throw new EngineException($"--model {name} is a {preset.Family} model but --objective {o.Objective} trains {FamilyOf(o.Objective)} models: choose --model {Presets.DefaultFor(o.Objective)} (or leave --model out)");
        var config = preset with
        {
            VocabSize = tokenizer.VocabSize,
            PaddedVocabSize = tokenizer.VocabSize,
            EndOfTextToken = tokenizer.EndOfText,
            PadToken = tokenizer switch { IMaskingTokenizer masking => masking.PadToken, ISpanTokenizer span => span.PadToken, _ => preset.PadToken },
            DecoderStartToken = tokenizer is ISpanTokenizer spans ? spans.PadToken : preset.DecoderStartToken,
            Layers = o.Layers ?? preset.Layers,
            DecoderLayers = o.Layers ?? preset.DecoderLayers,
            Dim = o.Dim ?? preset.Dim,
            Heads = o.Heads ?? preset.Heads,
            // A preset's own head width (T5's d_kv) holds only for its own shape; a new width or head count splits evenly.
            HeadDim = o.Dim != null || o.Heads != null ? 0 : preset.HeadDim,
            // The preset's expansion ratio: 4× for GPT-2 and BERT, 2× for the T5 presets' gated feed-forward.
            FeedForwardDim = o.FeedForwardDim ?? (o.Dim is int d ? preset.FeedForwardDim * d / preset.Dim : preset.FeedForwardDim),
            MaxPositions = o.MaxPositions ?? preset.MaxPositions,
        };
        if (o.PadVocab) config = config.WithVocabPaddedTo(128);
        config.Validate();
        return config;
    }

    /// <summary>The data and the tokenizer that made it: a prepared folder with meta.json, or the embedded text.</summary>
    /// <param name="embedded">The text a run without a data folder trains on (<see cref="TrainOptions.EmbeddedText"/>).</param>
    /// <param name="saved">For the embedded text: the tokenizer a resumed checkpoint holds (null = build it).</param>
    static (ITokenizer Tokenizer, string Name, TokenDataset Train, TokenDataset Validation, IReadOnlyList<string> Prompts) OpenData(string? path, string objective, Func<EmbeddedText>? embedded, ITokenizer? saved = null)
    {
        if (path == null)
        {
            var corpus = embedded?.Invoke()
                ?? throw new EngineException("no --data folder and no embedded text to train on: prepare one with `trainer prepare --input … --tokenizer … --out DIR` and pass --data DIR");
            // mlm on the embedded corpus predicts whole words from the training text's vocabulary (see WordMlmTokenizer
            // for why not bytes); clm expands shorthand byte by byte, span corrupts bytes with sentinels.
            ITokenizer tokenizer = saved ?? objective switch
            {
                MaskedLanguageModeling.Name => WordMlmTokenizer.Build(corpus.Train),
                SpanLanguageModeling.Name => new ByteSpanTokenizer(),
                _ => new ByteTokenizer(),
            };
            return (tokenizer, EmbeddedData,
                TokenDataset.FromTokens(tokenizer.Encode(corpus.Train), $"{corpus.Name} (train)"),
                TokenDataset.FromTokens(tokenizer.Encode(corpus.Validation), $"{corpus.Name} (validation)"),
                corpus.SamplePrompts);
        }
        string full = Path.GetFullPath(path);
        var meta = Directory.Exists(full) ? PreparedDatasetMeta.LoadIfPresent(full) : null;
        if (meta == null)
            throw new EngineException($"--data {path}: no {PreparedDatasetMeta.FileName} there; make the folder with `trainer prepare --input … --tokenizer … --out {path}`");
        var tok = TokenizerFactory.Resolve(meta.Tokenizer);
        return (tok, full, TokenDataset.Open(full, tok.VocabSize, DatasetPreparer.TrainSplit), TokenDataset.Open(full, tok.VocabSize, DatasetPreparer.ValSplit), Array.Empty<string>());
    }
}
