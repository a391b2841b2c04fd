using Engine.Checkpoints;
using Engine.Models;
using Engine.Objectives;
using Engine.Tensors;
using Engine.TokenizerTraining;
using Engine.Tokenizers;

namespace Engine.Training;

/// <summary>
/// The model a new run continues pre-training from (<see cref="TrainOptions.InitFrom"/>): an HF folder (GPT-2, BERT,
/// T5) or one of our runs or checkpoints. Its weights start the run; the optimizer, the step and the schedule
/// (warmup included) start fresh. Its shape is the run's, so options that would give another shape are refused by
/// name. Its tokenizer is the data's, unless <see cref="TrainOptions.ExtendVocab"/> grows its vocabulary with a
/// domain tokenizer's tokens (<see cref="VocabularyExtension"/>).
/// </summary>
sealed class InitialModel
{
    /// <summary>The folder the weights are read from.</summary>
    public required string Folder { get; init; }
    /// <summary>The run's model: the saved shape, the vocabulary grown, the options' quantization-aware training.</summary>
    public required TransformerConfig Config { get; init; }
    /// <summary>The tokenizer the model was trained with; null when the folder does not tell (an HF folder without tokenizer files).</summary>
    public ITokenizer? Tokenizer { get; init; }
    public VocabularyExtension? Extension { get; init; }

    /// <summary>How the run reads its data when the vocabulary grew; null otherwise.</summary>
    public RunVocabulary? Vocabulary { get; init; }

    public static InitialModel Open(TrainOptions options)
    {
        string path = options.InitFrom!;
        string folder;
        try { folder = Checkpoint.Locate(path); }
        catch (EngineException) { throw new EngineException(EngineOption.InitFrom, $"{EngineOption.InitFrom} {path}: no model there (neither {Checkpoint.StateFile} nor {Checkpoint.ConfigFile} + {Checkpoint.WeightsFile}); pass an HF model folder, a run folder or a checkpoint folder"); }
        if (QuantizedModels.QuantizedModelFolder.SchemeOf(folder) is { } scheme)
            throw new EngineException(EngineOption.InitFrom, $"{EngineOption.InitFrom} {path}: a quantized model ({scheme}, made by `trainer quantize`) runs forward only: start from the run it was made from");
        var state = TrainerState.Read(folder);
        var saved = Checkpoint.ReadModelConfig(folder);
        var family = options.Objective.Family();
        if (saved.Family != family)
            throw new EngineException(EngineOption.InitFrom, $"{EngineOption.InitFrom} {path}: a {saved.Family} model, but {EngineOption.Objective} {options.Objective.Name()} trains {family} models: start from a {family} model or choose the objective that trains this one");
        RefuseShapeOptions(options, saved);
        var tokenizer = ModelTokenizer.Find(folder, state, saved);
        var config = saved with { Qat = options.Qat };
        VocabularyExtension? extension = null;
        if (options.ExtendVocab is { } spec)
        {
            if (tokenizer == null)
                throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} {spec}: {EngineOption.InitFrom} {path} does not say which tokenizer its model reads (no {Checkpoint.StateFile}, tokenizer.json or vocab.json), so there is no vocabulary to grow");
            if (options.Objective == TrainingObjective.Mlm)
                throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} grows causal (clm) and encoder-decoder (span) models' byte-level vocabularies; masked LM's word boundaries (whole-word masking) are not defined for a grown BPE: continue without {EngineOption.ExtendVocab}");
            if (tokenizer.VocabSize != saved.VocabSize)
                throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} {spec}: the model's table has {saved.VocabSize} tokens but its tokenizer '{tokenizer.Name}' {tokenizer.VocabSize}; new tokens would not follow the old ones");
            ITokenizer domain;
            try { domain = TokenizerFactory.Resolve(spec); }
            catch (TokenizerException e) { throw new EngineException(EngineOption.ExtendVocab, $"{EngineOption.ExtendVocab} {spec}: {e.Message}"); }
            extension = VocabularyExtension.Build(tokenizer, domain);
            int grown = extension.Tokenizer.VocabSize;
            config = config with { VocabSize = grown, PaddedVocabSize = grown };
            if (saved.PaddedVocabSize != saved.VocabSize) config = config.WithVocabPaddedTo(128);
        }
        config.Validate();
        return new InitialModel { Folder = folder, Config = config, Tokenizer = tokenizer, Extension = extension, Vocabulary = extension == null ? null : new RunVocabulary(extension.Tokenizer) };
    }

    /// <summary>The data's tokenizer must be the model's (or, when the folder does not tell, fit its table).</summary>
    public void CheckDataTokenizer(ITokenizer data, string what)
    {
        if (Extension != null) return; // the run reads every source through its RunVocabulary
        if (Tokenizer != null && !ModelTokenizer.Same(data, Tokenizer))
            throw new EngineException(EngineOption.InitFrom, $"{what} is tokenized with '{data.Name}' but the model of {EngineOption.InitFrom} {Folder} reads '{Tokenizer.Name}': prepare the data with {EngineOption.Tokenizer} {Tokenizer.Name}, or grow the model's vocabulary with {EngineOption.ExtendVocab} {data.Name}");
        if (data.VocabSize > Config.VocabSize)
            throw new EngineException(EngineOption.InitFrom, $"{what} is tokenized with '{data.Name}' ({data.VocabSize} tokens), which does not fit the table of the model of {EngineOption.InitFrom} {Folder} ({Config.VocabSize} tokens): prepare the data with the model's tokenizer");
    }

    /// <summary>Fills the model with the saved weights; new vocabulary rows start as the mean of their pieces' rows.</summary>
    public void LoadInto(TransformerModel model)
    {
        // Steps of quantization-aware training the folder lacks stay 0: the run calibrates them on its first batch.
        var values = Checkpoint.ReadWeights(Folder, model.Layout, model.Config.Family, stepsMayBeMissing: true);
        if (Extension != null) StartNewRows(values, model.Layout, Extension);
        model.CopyParametersIn(values);
    }

    /// <summary>Each new token's row of every vocabulary table (embedding, untied head, output bias) is the mean of the
    /// rows of the old tokenizer's pieces of its text.</summary>
    static void StartNewRows(float[] values, ParameterLayout layout, VocabularyExtension extension)
    {
        foreach (var p in layout.Tensors.Where(t => t.VocabularyRows))
        {
            int width = (int)(p.Count / p.Shape[0]);
            var table = values.AsSpan((int)p.Offset, (int)p.Count);
            foreach (var token in extension.NewTokens)
            {
                var row = table.Slice(token.Id * width, width);
                var sum = new double[width];
                foreach (int piece in token.Pieces)
                    for (int i = 0; i < width; i++) sum[i] += table[piece * width + i];
                for (int i = 0; i < width; i++) row[i] = (float)(sum[i] / token.Pieces.Length);
            }
        }
    }

    /// <summary>Options that choose a shape contradict the model's own: refused by name.</summary>
    static void RefuseShapeOptions(TrainOptions o, TransformerConfig saved)
    {
        void Refuse(EngineOption option, object given, object model) =>
            throw new EngineException(option, $"{option} {given} contradicts the model of {EngineOption.InitFrom} {o.InitFrom} ({model}): its shape is the run's, so leave {option} out");
        if (o.Model != null) Refuse(EngineOption.Model, o.Model, $"a {saved.Family} model of {saved.Layers} layers × {saved.Dim}");
        if (o.Layers is int layers && layers != saved.Layers) Refuse(EngineOption.Layers, layers, $"{saved.Layers} layers");
        if (o.Dim is int dim && dim != saved.Dim) Refuse(EngineOption.Dim, dim, $"width {saved.Dim}");
        if (o.Heads is int heads && heads != saved.Heads) Refuse(EngineOption.Heads, heads, $"{saved.Heads} heads");
        if (o.FeedForwardDim is int ffn && ffn != saved.FeedForwardDim) Refuse(EngineOption.FeedForwardDim, ffn, $"feed-forward width {saved.FeedForwardDim}");
        if (o.MaxPositions is int positions && positions != saved.MaxPositions) Refuse(EngineOption.MaxPositions, positions, $"{saved.MaxPositions} positions");
        if (o.PadVocab && saved.PaddedVocabSize == saved.VocabSize) Refuse(EngineOption.PadVocab, "", $"a table of {saved.VocabSize} rows");
    }
}
