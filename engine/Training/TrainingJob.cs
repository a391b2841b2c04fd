using Engine.Backends;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Data.Corpus;
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
    public required RunFolder Folder { get; init; }
    public required string DeviceNote { get; init; }
    /// <summary>Prompts to show a sample for (the embedded corpus's held-out shorthand), possibly empty.</summary>
    public required IReadOnlyList<string> SamplePrompts { get; init; }
    public bool Resumed { get; init; }
    public void Dispose() => Backend.Dispose();
}

/// <summary>Turns <see cref="TrainOptions"/> into a ready run: data, tokenizer, model, optimizer, run folder; or resumes one.</summary>
public static class TrainingJob
{
    public const string EmbeddedData = "embedded";
    /// <summary>Lines of the embedded corpus: about 1.3 MB of training text, enough for the default schedule.</summary>
    const int EmbeddedTrainLines = 20000, EmbeddedValidationLines = 1000;
    /// <summary>The embedded corpus is one fixed text, whatever --seed says (the seed varies the model, not the data).</summary>
    const int EmbeddedCorpusSeed = 2026;

    public static PreparedRun Prepare(TrainOptions options)
    {
        if (options.Objective is not (CausalLanguageModeling.Name or MaskedLanguageModeling.Name))
            throw new EngineException($"--objective {options.Objective}: only clm and mlm are implemented in this build (span comes with the T5 family)");
        return options.Resume != null ? PrepareResume(options) : PrepareFresh(options);
    }

    static PreparedRun PrepareFresh(TrainOptions options)
    {
        var settings = options.Settings;
        settings.Validate();
        var (tokenizer, dataName, train, validation, prompts) = OpenData(options.Data, options.Objective);
        var config = BuildConfig(options, tokenizer);
        if (settings.SequenceLength > config.MaxPositions)
            throw new EngineException($"--seq {settings.SequenceLength} exceeds the model's {config.MaxPositions} positions: lower --seq or raise --max-positions");
        var folder = new RunFolder(options.Out ?? RunFolder.DefaultPath(options.Objective));
        if (File.Exists(folder.MetricsPath) || Directory.Exists(folder.CheckpointPath))
            throw new EngineException($"--out {folder.Path} already holds a run: continue it with --resume {folder.Path}, or choose a new --out");
        var backend = BackendFactory.Create(options.Device, out string note);
        try
        {
            var model = new TransformerModel(config, backend);
            Initialization.Initialize(model, new Rng(settings.Seed));
            var optimizer = new AdamWOptimizer(backend, model.Layout, model.Memory.Parameters, model.Memory.Gradients, settings.AdamW);
            var objective = CreateObjective(options.Objective, settings, tokenizer, train, validation);
            var state = new TrainerState { Model = config, Settings = settings, Tokenizer = tokenizer.Name, Objective = options.Objective, Data = dataName };
            return new PreparedRun
            {
                Backend = backend, Model = model, Tokenizer = tokenizer, Folder = folder, DeviceNote = note, SamplePrompts = prompts,
                Loop = new TrainingLoop(model, optimizer, objective, state, folder, tokenizer),
            };
        }
        catch { backend.Dispose(); throw; }
    }

    static PreparedRun PrepareResume(TrainOptions options)
    {
        string checkpoint = Checkpoint.Locate(options.Resume!);
        var saved = Checkpoint.ReadState(checkpoint)
                    ?? throw new EngineException($"--resume {options.Resume}: {checkpoint} has weights but no {Checkpoint.StateFile}; to start a new run from these weights use --model {checkpoint}");
        var settings = options.StepsGiven ? saved.Settings with { Steps = options.Settings.Steps } : saved.Settings;
        settings.Validate();
        // A vocabulary saved with the checkpoint is the one the weights were trained with: use it, never a rebuilt one.
        var savedTokenizer = saved.Tokenizer == WordMlmTokenizer.SpecName ? WordMlmTokenizer.Load(checkpoint) : null;
        var (tokenizer, _, train, validation, prompts) = OpenData(saved.Data == EmbeddedData ? null : saved.Data, saved.Objective, savedTokenizer);
        // The run folder is the checkpoint's parent unless --out moves it.
        var folder = new RunFolder(options.Out ?? Path.GetDirectoryName(Path.GetFullPath(checkpoint))!);
        var backend = BackendFactory.Create(options.Device, out string note);
        try
        {
            var model = new TransformerModel(saved.Model, backend);
            Checkpoint.LoadWeights(checkpoint, model);
            var optimizer = new AdamWOptimizer(backend, model.Layout, model.Memory.Parameters, model.Memory.Gradients, settings.AdamW);
            Checkpoint.LoadOptimizer(checkpoint, optimizer, backend, saved.Step);
            var objective = CreateObjective(saved.Objective, settings, tokenizer, train, validation);
            objective.RestoreState(saved.DataState);
            return new PreparedRun
            {
                Backend = backend, Model = model, Tokenizer = tokenizer, Folder = folder, DeviceNote = note, SamplePrompts = prompts, Resumed = true,
                Loop = new TrainingLoop(model, optimizer, objective, saved with { Settings = settings }, folder, tokenizer),
            };
        }
        catch { backend.Dispose(); throw; }
    }

    static IBatchSource CreateObjective(string objective, TrainingSettings settings, ITokenizer tokenizer, TokenDataset train, TokenDataset validation) => objective switch
    {
        MaskedLanguageModeling.Name => new MaskedLanguageModeling(train, validation, MaskingTokenizer(tokenizer), settings.MaskProbability, settings.WholeWordMasking, settings.Seed),
        _ => new CausalLanguageModeling(train, validation),
    };

    static IMaskingTokenizer MaskingTokenizer(ITokenizer tokenizer) => tokenizer as IMaskingTokenizer
        ?? throw new EngineException($"--objective mlm needs a tokenizer with [MASK] and [PAD] tokens; the data's tokenizer '{tokenizer.Name}' has none: prepare it with `trainer prepare --tokenizer {ByteMlmTokenizer.SpecName} …`");

    /// <summary>The family each objective trains.</summary>
    static ModelFamily FamilyOf(string objective) => objective switch
    {
        MaskedLanguageModeling.Name => ModelFamily.EncoderOnly,
        "span" => ModelFamily.EncoderDecoder,
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
            PadToken = tokenizer is IMaskingTokenizer masking ? masking.PadToken : preset.PadToken,
            Layers = o.Layers ?? preset.Layers,
            Dim = o.Dim ?? preset.Dim,
            Heads = o.Heads ?? preset.Heads,
            FeedForwardDim = o.FeedForwardDim ?? (o.Dim is int d ? 4 * d : preset.FeedForwardDim),
            MaxPositions = o.MaxPositions ?? preset.MaxPositions,
        };
        if (o.PadVocab) config = config.WithVocabPaddedTo(128);
        config.Validate();
        return config;
    }

    /// <summary>The data and the tokenizer that made it: a prepared folder with meta.json, or the embedded corpus.</summary>
    /// <summary>The embedded corpus every run without --data trains on.</summary>
    public static CorpusSplit EmbeddedCorpus() => PrescriptionCorpus.Generate(EmbeddedCorpusSeed, EmbeddedTrainLines, EmbeddedValidationLines);

    /// <param name="saved">For the embedded corpus: the tokenizer a resumed checkpoint holds (null = build it).</param>
    static (ITokenizer Tokenizer, string Name, TokenDataset Train, TokenDataset Validation, IReadOnlyList<string> Prompts) OpenData(string? path, string objective, ITokenizer? saved = null)
    {
        if (path == null)
        {
            var corpus = EmbeddedCorpus();
            // mlm on the embedded corpus predicts whole words from the training text's vocabulary (see WordMlmTokenizer
            // for why not bytes); clm expands shorthand byte by byte.
            ITokenizer tokenizer = saved ?? (objective == MaskedLanguageModeling.Name ? WordMlmTokenizer.Build(corpus.Train) : new ByteTokenizer());
            return (tokenizer, EmbeddedData,
                TokenDataset.FromTokens(tokenizer.Encode(corpus.Train), "embedded prescriptions (train)"),
                TokenDataset.FromTokens(tokenizer.Encode(corpus.Validation), "embedded prescriptions (validation)"),
                corpus.HeldOutPrompts);
        }
        string full = Path.GetFullPath(path);
        var meta = Directory.Exists(full) ? PreparedDatasetMeta.LoadIfPresent(full) : null;
        if (meta == null)
            throw new EngineException($"--data {path}: no {PreparedDatasetMeta.FileName} there; make the folder with `trainer prepare --input … --tokenizer … --out {path}`");
        var tok = TokenizerFactory.Resolve(meta.Tokenizer);
        return (tok, full, TokenDataset.Open(full, tok.VocabSize, DatasetPreparer.TrainSplit), TokenDataset.Open(full, tok.VocabSize, DatasetPreparer.ValSplit), Array.Empty<string>());
    }
}
