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
    /// <summary>The ranks of this launch (a single process unless launched by mpirun for a data-parallel strategy).</summary>
    public required ICommunicator Communicator { get; init; }
    public bool IsLeader => Communicator.Rank == 0;
    /// <summary>Which device runs and why, naming options by key (a front end names them its way).</summary>
    public required OptionMessage DeviceNote { get; init; }
    /// <summary>Prompts to show a sample for (the embedded corpus's held-out shorthand), possibly empty.</summary>
    public required IReadOnlyList<string> SamplePrompts { get; init; }
    public bool Resumed { get; init; }
    /// <summary>On resume, the options that changed from the checkpoint's run ("resuming at step 40 with Steps 100 (was
    /// 60)"), for the front end to echo; null when none did or the run is new.</summary>
    public OptionMessage? ResumeChanges { get; init; }
    /// <summary>What the setup did that the user should read (a broken checkpoint skipped on resume, a partial run
    /// started over), naming options by key.</summary>
    public IReadOnlyList<OptionMessage> Notes { get; init; } = [];

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
        if (!Enum.IsDefined(options.Objective))
            throw new EngineException(EngineOption.Objective, $"{EngineOption.Objective} {(int)options.Objective}: choose clm, mlm or span");
        if (options.Resume != null && options.InitFrom != null)
            throw new EngineException(EngineOption.InitFrom, $"{EngineOption.InitFrom} starts a new run from a model's weights and {EngineOption.Resume} continues a run where it stopped: give one of them");
        if (options.ExtendVocab != null && options.InitFrom == null)
            throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} grows the vocabulary of the model a run starts from: add {EngineOption.InitFrom} DIR (a trained model's folder)");
        return options.Resume != null ? PrepareResume(options) : PrepareFresh(options);
    }

    static PreparedRun PrepareFresh(TrainOptions options)
    {
        var settings = options.Settings;
        settings.Validate();
        int specials = options.Objective == TrainingObjective.Span ? RunBpeSpanTokenizer.Specials().Count : 1;
        if (options.EmbeddedBpeVocabSize > 0 && options.EmbeddedBpeVocabSize < TokenizerTraining.BpeTrainer.ByteTokens + specials)
            throw new EngineException(EngineOption.EmbeddedBpe, $"{EngineOption.EmbeddedBpe} {options.EmbeddedBpeVocabSize}: a BPE holds the {TokenizerTraining.BpeTrainer.ByteTokens} bytes and {specials} special token(s) before any merge; give at least {TokenizerTraining.BpeTrainer.ByteTokens + specials} tokens, or 0 for the objective's byte tokenizer");
        if (options.Data != null && options.DataSources.Count > 0)
            throw new EngineException(EngineOption.Data, $"give one folder as {nameof(TrainOptions.Data)} or several as {nameof(TrainOptions.DataSources)}, not both");
        var sources = options.DataSources.Count > 0 ? options.DataSources : options.Data != null ? [new DataSource(options.Data)] : null;
        var initial = options.InitFrom != null ? InitialModel.Open(options) : null;
        // The embedded text is tokenized as the starting model reads (when its folder tells).
        var data = OpenRunData(sources, options.Objective, options.EmbeddedText, initial?.Vocabulary?.Tokenizer ?? initial?.Tokenizer, initial?.Vocabulary, options.EmbeddedBpeVocabSize);
        var tokenizer = data.Tokenizer;
        initial?.CheckDataTokenizer(tokenizer, sources == null ? "the embedded text" : $"{EngineOption.Data} {sources[0].Path}");
        var evalSets = TrainingData.OpenEvalSets(options.EvalData, tokenizer, initial?.Vocabulary);
        var config = initial?.Config ?? BuildConfig(options, tokenizer) with { Qat = options.Qat };
        CheckQat(config.Qat, settings);
        if (settings.SequenceLength > config.MaxPositions)
            throw new EngineException(EngineOption.SequenceLength, $"{EngineOption.SequenceLength} {settings.SequenceLength} exceeds the model's {config.MaxPositions} positions: lower {EngineOption.SequenceLength} or raise {EngineOption.MaxPositions}");
        var launch = Launch(options);
        string outPath = options.Out ?? RunFolder.DefaultPath(options.Objective);
        // Every rank checks before any rank writes (rank 0 creates the folder only after the barrier below), so all
        // ranks see the same answer and fail together.
        // Only a complete checkpoint makes a run worth keeping: a folder whose first save failed (disk full) or that
        // was stopped before it starts over, so the same command works once the cause is fixed.
        if (CheckpointSet.Choose(outPath).Chosen != null)
            throw new EngineException(EngineOption.Out, $"{EngineOption.Out} {outPath} already holds a run: continue it with {EngineOption.Resume} {outPath}, or choose a new {EngineOption.Out}");
        var partial = RunFolder.PartialRun(outPath);
        var backends = BackendFactory.Create(options.Device, out var note, launch.LocalRank, settings.Precision);
        var backend = backends.Compute;
        ICommunicator? comm = null;
        TransformerModel? model = null;
        try
        {
            comm = CommunicatorFactory.Create(backends, launch, dataParallel: options.Strategy != ParallelStrategy.None);
            comm.Barrier();
            var folder = RunFolder.For(outPath, writer: comm.Rank == 0);
            if (comm.Rank == 0 && partial != null) folder.StartOver();
            model = CreateModel(config, backends, comm, options);
            if (initial != null) initial.LoadInto(model);
            else Initialization.Initialize(model, new Rng(settings.Seed));
            var optimizer = model.CreateOptimizer(settings.AdamW);
            var objective = CreateTrainingSource(options.Objective, settings, data);
            var state = new TrainerState
            {
                Model = config, Settings = settings, Tokenizer = tokenizer.Name, Objective = options.Objective, Data = data.Name,
                InitFrom = initial == null ? null : Path.GetFullPath(initial.Folder), ExtendVocab = options.ExtendVocab,
                Sources = data.Mixture, EvalSets = options.EvalData.Count > 0 ? options.EvalData.Select(e => e with { Path = Path.GetFullPath(e.Path) }).ToList() : null,
            };
            return new PreparedRun
            {
                Backend = backend, Model = model, Tokenizer = tokenizer, Folder = folder, DeviceNote = note, SamplePrompts = data.Prompts, Communicator = comm,
                Notes = partial != null ? [partial] : [],
                Loop = new TrainingLoop(model, optimizer, objective, state, comm.Rank == 0 ? folder : null, tokenizer, comm, calibrateQuantizers: config.Qat != null,
                    evalSets: CreateEvalSources(options.Objective, settings, tokenizer, evalSets)),
            };
        }
        catch { model?.Dispose(); comm?.Dispose(); backend.Dispose(); throw; }
    }

    /// <summary>Quantization-aware training multiplies fake-quantized fp32 values (its ops read and write fp32).</summary>
    static void CheckQat(Tensors.QuantizationScheme? qat, TrainingSettings settings)
    {
        if (qat == null) return;
        qat.Validate();
        if (settings.Precision != Precision.PrecisionMode.Fp32)
            throw new EngineException(EngineOption.Qat, $"{EngineOption.Qat} {qat} trains in fp32 (its fake quantization reads and writes fp32 values): drop {EngineOption.Precision} {settings.Precision.ToString().ToLowerInvariant()} or {EngineOption.Qat}");
    }

    /// <summary>
    /// The config a resumed run trains: the checkpoint's, plus quantization-aware training when asked for and the
    /// checkpoint was trained without it (QAT fine-tuning of a pre-trained run). A different scheme than the
    /// checkpoint's is refused: its learnt steps belong to its own bit widths.
    /// </summary>
    static (TransformerConfig Config, bool AddsQat) ResumedConfig(TransformerConfig saved, TrainOptions options, TrainingSettings settings)
    {
        if (options.Qat is not { } qat || saved.Qat == qat) { CheckQat(saved.Qat, settings); return (saved, false); }
        if (saved.Qat != null)
            throw new EngineException(EngineOption.Qat, $"{EngineOption.Resume} {options.Resume}: the run trains with {EngineOption.Qat} {saved.Qat}, not {qat}: leave {EngineOption.Qat} out to continue it");
        CheckQat(qat, settings);
        return (saved with { Qat = qat }, true);
    }

    static PreparedRun PrepareResume(TrainOptions options)
    {
        var choice = Checkpoint.Resolve(options.Resume!);
        string checkpoint = choice.Chosen!.Path;
        // Broken checkpoints newer than the chosen one are said, not silently passed over; the next save removes them.
        var notes = choice.Skipped.Select(s => (OptionMessage)OptionMessage.Plain($"skipped checkpoint {s.Path}{(s.Step is int n ? $" (step {n})" : "")}: {s.Problem}; resuming from {checkpoint}")).ToList();
        if (QuantizedModels.QuantizedModelFolder.SchemeOf(checkpoint) is { } quantized)
            throw new EngineException(EngineOption.Resume, $"{EngineOption.Resume} {options.Resume}: a quantized model ({quantized}, made by `trainer quantize`) runs forward only (eval, generate, fill-mask, infill): resume the run it was made from, adding {EngineOption.Qat} {quantized} to train with quantization");
        var saved = TrainerState.Read(checkpoint)
                    ?? throw new EngineException(EngineOption.Resume, $"{EngineOption.Resume} {options.Resume}: {checkpoint} has weights but no {Checkpoint.StateFile}; to start a new run from these weights use {EngineOption.Model} {checkpoint}");
        // Everything that shaped the run so far must be the checkpoint's; what may change (steps, intervals, the
        // micro-batch, checkpoints kept, guards) is taken from the options. Both checks come before anything is opened
        // or written, so a refused resume leaves the run folder as it was.
        ResumeConflicts.Check(options, saved);
        var settings = ResumeConflicts.Merge(saved.Settings, options);
        ResumeConflicts.CheckStepsLeft(options, saved, settings);
        settings.Validate();
        var savedTokenizer = SavedTokenizer(saved, checkpoint);
        var vocabulary = VocabularyOf(savedTokenizer);
        // Checkpoints from before mixtures name one folder (weight 1).
        var sources = saved.Sources ?? (saved.Data == EmbeddedData ? null : [new DataSource(saved.Data)]);
        var data = OpenRunData(sources, saved.Objective, options.EmbeddedText, savedTokenizer, vocabulary);
        var tokenizer = data.Tokenizer;
        // The run's own sets, unless the options name others (a resumed run may start scoring new sets).
        var evalData = options.EvalData.Count > 0 ? options.EvalData : saved.EvalSets ?? [];
        var evalSets = TrainingData.OpenEvalSets(evalData, tokenizer, vocabulary);
        var launch = Launch(options);
        var backends = BackendFactory.Create(options.Device, out var note, launch.LocalRank, settings.Precision);
        var backend = backends.Compute;
        ICommunicator? comm = null;
        TransformerModel? model = null;
        try
        {
            comm = CommunicatorFactory.Create(backends, launch, dataParallel: options.Strategy != ParallelStrategy.None);
            // The run folder is the checkpoint's parent unless the options name another. The checkpoint holds one global data
            // position and full weights, so any world size resumes it.
            var folder = RunFolder.For(options.Out ?? Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, writer: comm.Rank == 0);
            if (comm.Rank == 0) folder.TruncateMetricsAfter(saved.Step);
            folder.CheckpointStep = saved.Step;
            // Resuming an older checkpoint on purpose starts a new line of the run: its next save replaces the newer ones.
            if (comm.Rank == 0 && CheckpointSet.List(folder.Path).Where(e => e.IsGood && e.Step > saved.Step).Select(e => e.Step!.Value).ToList() is { Count: > 0 } newer)
                notes.Add(OptionMessage.Plain($"{folder.Path} holds checkpoints newer than step {saved.Step} (step {string.Join(", ", newer)}): the first save of this run replaces them"));
            var (config, addsQat) = ResumedConfig(saved.Model, options, settings);
            // QAT starting here: its steps' rates are this command's (the checkpoint's run had no steps).
            if (addsQat)
                settings = settings with
                {
                    AdamW = settings.AdamW with
                    {
                        WeightStepLearningRateScale = options.Settings.AdamW.WeightStepLearningRateScale,
                        InputStepLearningRateScale = options.Settings.AdamW.InputStepLearningRateScale,
                    },
                };
            model = CreateModel(config, backends, comm, options);
            Checkpoint.LoadWeights(checkpoint, model, stepsMayBeMissing: addsQat);
            var optimizer = model.CreateOptimizer(settings.AdamW);
            // AdamW counts its own updates (bias correction): every step but those fp16 skipped on overflow.
            Checkpoint.LoadOptimizer(checkpoint, optimizer, model, saved.Step - (int)saved.SkippedSteps, addsQat ? TransformerModel.LayoutOf(saved.Model) : null);
            var objective = CreateTrainingSource(saved.Objective, settings, data);
            objective.RestoreState(saved.DataState);
            var state = saved with
            {
                Settings = settings, Model = config,
                EvalSets = evalData.Count > 0 ? evalData.Select(e => e with { Path = Path.GetFullPath(e.Path) }).ToList() : null,
            };
            return new PreparedRun
            {
                Backend = backend, Model = model, Tokenizer = tokenizer, Folder = folder, DeviceNote = note, SamplePrompts = data.Prompts, Resumed = true, Communicator = comm, Notes = notes,
                ResumeChanges = ResumeConflicts.Describe(saved.Step, saved.Settings, settings),
                Loop = new TrainingLoop(model, optimizer, objective, state, comm.Rank == 0 ? folder : null, tokenizer, comm, calibrateQuantizers: addsQat,
                    evalSets: CreateEvalSources(saved.Objective, settings, tokenizer, evalSets)),
            };
        }
        catch { model?.Dispose(); comm?.Dispose(); backend.Dispose(); throw; }
    }

    /// <summary>A trained model's own held-out data: the validation batches its run scored and the held-out prompts
    /// of the embedded corpus (empty for a prepared folder).</summary>
    public sealed record HeldOut(ITokenizer Tokenizer, IReadOnlyList<Batch> Validation, IReadOnlyList<string> Prompts);

    /// <summary>
    /// Rebuilds the validation split a run in <paramref name="folder"/> (a checkpoint, or a quantized copy of one)
    /// scored, exactly as its training loop did, so another model of the same run (quantized, fine-tuned) is scored
    /// on the same batches.
    /// </summary>
    public static HeldOut OpenValidation(string folder, TrainerState saved, Func<EmbeddedText>? embedded)
    {
        var savedTokenizer = SavedTokenizer(saved, folder);
        // The run scored its first (or only) folder's validation split.
        var data = OpenRunData(saved.Data == EmbeddedData ? null : [new DataSource(saved.Data)], saved.Objective, embedded, savedTokenizer, VocabularyOf(savedTokenizer));
        var s = saved.Settings;
        var first = data.Sources[0];
        var objective = CreateObjective(saved.Objective, s, data.Tokenizer, first.Train, first.Validation!);
        return new HeldOut(data.Tokenizer, objective.ValidationBatches(s.MicroBatch, s.SequenceLength, s.EvalBatches), data.Prompts);
    }

    /// <summary>A vocabulary saved with a checkpoint is the one its weights were trained with: use it, never a rebuilt
    /// one (null: the run's tokenizer has no files of its own).</summary>
    static ITokenizer? SavedTokenizer(TrainerState saved, string folder) =>
        TokenizerFactory.IsKeptInCheckpoint(saved.Tokenizer) ? TokenizerFactory.LoadFromCheckpoint(saved.Tokenizer, folder) : null;

    /// <summary>How a run whose tokenizer is a BPE of its own (a grown vocabulary) reads prepared folders; null for
    /// the others, which read their folders' ids as they are.</summary>
    static RunVocabulary? VocabularyOf(ITokenizer? saved) => saved is RunBpeTokenizer own ? new RunVocabulary(own) : null;

    /// <summary>The model with every parameter (none, ddp) or this rank's shard of them (fsdp).</summary>
    static TransformerModel CreateModel(TransformerConfig config, BackendStack backends, ICommunicator comm, TrainOptions options) =>
        options.Strategy == ParallelStrategy.Fsdp
            ? new TransformerModel(config, backends.Compute, layout => new FullyShardedParameters(backends.Compute, comm, layout, options.Fsdp,
                options.Fsdp.CpuOffload ? OffloadTransfers.For(backends) : null))
            : new TransformerModel(config, backends.Compute);

    /// <summary>The launch this process belongs to, checked against the strategy.</summary>
    static LaunchEnvironment Launch(TrainOptions options)
    {
        var launch = LaunchEnvironment.Detect();
        if (options.Strategy != ParallelStrategy.Fsdp && options.Fsdp != new FsdpOptions())
            throw new EngineException(EngineOption.Strategy, $"{EngineOption.ReshardAfterForward}, {EngineOption.ShardingFactor}, {EngineOption.CpuOffload} and {EngineOption.FsdpOverlap} shape FSDP: add {EngineOption.Strategy} fsdp (the strategy is {Named(options.Strategy)})");
        switch (options.Strategy)
        {
            case ParallelStrategy.None when launch.IsDistributed:
                throw new EngineException(EngineOption.Strategy, $"launched as rank {launch.Rank} of {launch.WorldSize} by {launch.Launcher} but {EngineOption.Strategy} is none: add {EngineOption.Strategy} ddp (replicas) or {EngineOption.Strategy} fsdp (sharded) to train data-parallel");
            case ParallelStrategy.Fsdp:
                options.Fsdp.GroupSize(launch.WorldSize); // a sharding factor that does not divide the world fails here, on every rank, before any work
                return launch;
            case ParallelStrategy.None or ParallelStrategy.Ddp:
                return launch;
            default:
                throw new EngineException(EngineOption.Strategy, $"{EngineOption.Strategy} {(int)options.Strategy} is not one of none, ddp, fsdp");
        }
    }

    /// <summary>A strategy as messages write it (none, ddp, fsdp).</summary>
    static string Named(ParallelStrategy strategy) => strategy.ToString().ToLowerInvariant();

    /// <summary>The data a run trains on: the embedded text (one source, no mixture) or prepared folders.</summary>
    /// <param name="Mixture">The folders and weights as the checkpoint records them; null for the embedded text.</param>
    sealed record RunData(ITokenizer Tokenizer, string Name, IReadOnlyList<OpenedSource> Sources, IReadOnlyList<string> Prompts, IReadOnlyList<DataSource>? Mixture);

    /// <summary>Opens the run's training data: <paramref name="sources"/> (null = the embedded text).</summary>
    /// <param name="saved">For the embedded text: the tokenizer to encode it with (null = the objective's own).</param>
    /// <param name="vocabulary">A grown vocabulary the folders are read in (null: their own tokenizer's ids).</param>
    /// <param name="embeddedBpeVocabSize">For a new clm run on the embedded text: the BPE to learn from it (0 = bytes).</param>
    static RunData OpenRunData(IReadOnlyList<DataSource>? sources, TrainingObjective objective, Func<EmbeddedText>? embedded, ITokenizer? saved = null, RunVocabulary? vocabulary = null, int embeddedBpeVocabSize = 0)
    {
        if (sources == null)
        {
            var (tokenizer, train, validation, prompts) = OpenEmbedded(objective, embedded, saved, embeddedBpeVocabSize);
            const string name = EmbeddedData;
            return new RunData(tokenizer, name, [new OpenedSource(name, name, 1, train, validation)], prompts, null);
        }
        var (tok, opened) = TrainingData.OpenSources(sources, vocabulary);
        return new RunData(tok, opened[0].Path, opened, [], opened.Select(o => new DataSource(o.Path, o.Weight)).ToList());
    }

    /// <summary>
    /// The embedded text's objective as it always was; prepared folders behind a <see cref="MixedBatchSource"/> (with
    /// one folder it hands out that folder's batches unchanged). Each source masks or corrupts with its own seed, so two
    /// sources never share a pattern at the same position; the first keeps the run's seed, as a one-folder run always did.
    /// </summary>
    static IBatchSource CreateTrainingSource(TrainingObjective objective, TrainingSettings settings, RunData data)
    {
        if (data.Mixture == null) return CreateObjective(objective, settings, data.Tokenizer, data.Sources[0].Train, data.Sources[0].Validation!);
        return new MixedBatchSource(data.Sources.Select((s, i) => new MixedBatchSource.Source(s.Name, s.Weight,
            // A source after the first is never validated (the run scores the first's split): its train split stands in.
            CreateObjective(objective, settings with { Seed = settings.Seed + (ulong)i * 0x9E3779B97F4A7C15UL }, data.Tokenizer, s.Train, s.Validation ?? s.Train))).ToList());
    }

    /// <summary>An objective per named validation set, scoring its validation split as the run scores its own.</summary>
    static IReadOnlyList<(string Name, IBatchSource Data)> CreateEvalSources(TrainingObjective objective, TrainingSettings settings, ITokenizer tokenizer, IReadOnlyList<(string Name, TokenDataset Validation)> sets) =>
        sets.Select(s => (s.Name, CreateObjective(objective, settings, tokenizer, s.Validation, s.Validation))).ToList();

    static IBatchSource CreateObjective(TrainingObjective objective, TrainingSettings settings, ITokenizer tokenizer, TokenDataset train, TokenDataset validation) => objective switch
    {
        TrainingObjective.Mlm => new MaskedLanguageModeling(train, validation, MaskingTokenizer(tokenizer), settings.MaskProbability, settings.WholeWordMasking, settings.Seed),
        TrainingObjective.Span => new SpanLanguageModeling(train, validation, SpanTokenizer(tokenizer), settings.SequenceLength, settings.NoiseDensity, settings.MeanSpanLength, settings.Seed),
        _ => new CausalLanguageModeling(train, validation),
    };

    static IMaskingTokenizer MaskingTokenizer(ITokenizer tokenizer) => tokenizer as IMaskingTokenizer
        ?? throw new EngineException(EngineOption.Data, $"{EngineOption.Objective} mlm needs a tokenizer with [MASK] and [PAD] tokens; the data's tokenizer '{tokenizer.Name}' has none: prepare it with `trainer prepare {EngineOption.Tokenizer} {ByteMlmTokenizer.SpecName} …`");

    static ISpanTokenizer SpanTokenizer(ITokenizer tokenizer) => tokenizer as ISpanTokenizer
        ?? throw new EngineException(EngineOption.Data, $"{EngineOption.Objective} span needs a tokenizer with sentinel tokens (<extra_id_N>) and a pad id; the data's tokenizer '{tokenizer.Name}' has none: prepare it with `trainer prepare {EngineOption.Tokenizer} {ByteSpanTokenizer.SpecName} …`");

    static TransformerConfig BuildConfig(TrainOptions o, ITokenizer tokenizer)
    {
        string name = o.Model ?? o.Objective.DefaultPreset();
        var preset = Presets.Get(name);
        if (preset.Family != o.Objective.Family())
            throw new EngineException(EngineOption.Model, $"{EngineOption.Model} {name} is a {preset.Family} model but {EngineOption.Objective} {o.Objective.Name()} trains {o.Objective.Family()} models: choose {EngineOption.Model} {o.Objective.DefaultPreset()} (or leave {EngineOption.Model} out)");
        var config = PresetShape(o) with
        {
            VocabSize = tokenizer.VocabSize,
            PaddedVocabSize = tokenizer.VocabSize,
            EndOfTextToken = tokenizer.EndOfText,
            PadToken = tokenizer switch { IMaskingTokenizer masking => masking.PadToken, ISpanTokenizer span => span.PadToken, _ => preset.PadToken },
            DecoderStartToken = tokenizer is ISpanTokenizer spans ? spans.PadToken : preset.DecoderStartToken,
        };
        if (o.PadVocab) config = config.WithVocabPaddedTo(128);
        config.Validate();
        return config;
    }

    /// <summary>The shape the options ask for: the preset (the objective's default when none is named) with the
    /// given overrides; its vocabulary is the tokenizer's, filled in by <see cref="BuildConfig"/>.</summary>
    internal static TransformerConfig PresetShape(TrainOptions o)
    {
        var preset = Presets.Get(o.Model ?? o.Objective.DefaultPreset());
        return preset with
        {
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
    }

    /// <summary>The embedded text and the tokenizer that reads it.</summary>
    /// <param name="embedded">The text a run without a data folder trains on (<see cref="TrainOptions.EmbeddedText"/>).</param>
    /// <param name="saved">The tokenizer a resumed checkpoint holds or a starting model reads (null = build it).</param>
    /// <param name="embeddedBpeVocabSize">For a new clm or span run: the BPE to learn from the text (0 = bytes).</param>
    static (ITokenizer Tokenizer, TokenDataset Train, TokenDataset Validation, IReadOnlyList<string> Prompts) OpenEmbedded(TrainingObjective objective, Func<EmbeddedText>? embedded, ITokenizer? saved, int embeddedBpeVocabSize)
    {
        var corpus = embedded?.Invoke()
            ?? throw new EngineException(EngineOption.Data, $"no {EngineOption.Data} folder and no embedded text to train on: prepare one with `trainer prepare {EngineOption.Input} … {EngineOption.Tokenizer} … {EngineOption.Out} DIR` and pass {EngineOption.Data} DIR");
        // mlm on the embedded corpus predicts whole words from the training text's vocabulary (see WordMlmTokenizer
        // for why not bytes); clm expands shorthand byte by byte, or in the tokens of a BPE learnt from the training
        // text (the trainer's default: each shorthand word one token); span corrupts bytes, or that BPE's tokens, with sentinels.
        ITokenizer tokenizer = saved ?? objective switch
        {
            TrainingObjective.Mlm => WordMlmTokenizer.Build(corpus.Train),
            TrainingObjective.Span => embeddedBpeVocabSize > 0 ? TokenizerTraining.BpeTrainer.Learn(corpus.Train, embeddedBpeVocabSize, RunBpeSpanTokenizer.Specials()) : new ByteSpanTokenizer(),
            _ => embeddedBpeVocabSize > 0 ? TokenizerTraining.BpeTrainer.Learn(corpus.Train, embeddedBpeVocabSize) : new ByteTokenizer(),
        };
        return (tokenizer,
            TokenDataset.FromTokens(tokenizer.Encode(corpus.Train), $"{corpus.Name} (train)"),
            TokenDataset.FromTokens(tokenizer.Encode(corpus.Validation), $"{corpus.Name} (validation)"),
            corpus.SamplePrompts);
    }
}
