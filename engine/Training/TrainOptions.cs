using Engine.Backends;
using Engine.Distributed;
using Engine.Objectives;

namespace Engine.Training;

/// <summary>What the user asked for (through the command line or the API), before anything is built.</summary>
public sealed record TrainOptions
{
    public TrainingObjective Objective { get; init; } = TrainingObjective.Clm;
    /// <summary>A preset name (gpt2-tiny, bert-tiny, …); null = the objective's default (<see cref="Objectives.TrainingObjectives.DefaultPreset"/>).</summary>
    public string? Model { get; init; }
    /// <summary>A prepared folder (`trainer prepare`), a .bin shard or a glob; null = <see cref="EmbeddedText"/>.</summary>
    public string? Data { get; init; }
    /// <summary>Several prepared folders mixed by weight (each batch's sequences drawn from them in proportion,
    /// <see cref="Objectives.SourceSchedule"/>); the run's validation loss is the first's. Give this or <see cref="Data"/>
    /// (one folder, weight 1), not both; empty with <see cref="Data"/> null = <see cref="EmbeddedText"/>.</summary>
    public IReadOnlyList<DataSource> DataSources { get; init; } = [];
    /// <summary>Named sets whose validation splits are scored at every evaluation besides the run's own.</summary>
    public IReadOnlyList<EvalDataSet> EvalData { get; init; } = [];
    /// <summary>The text a run without <see cref="Data"/> trains on, and a resumed run that did; called only then. The
    /// engine has no text of its own to fall back on: the trainer passes its demo corpus here.</summary>
    public Func<Data.EmbeddedText>? EmbeddedText { get; init; }
    /// <summary>A clm or span run on <see cref="EmbeddedText"/> reads it with a byte-level BPE of up to this many tokens,
    /// learnt from its training text when the run starts (<see cref="TokenizerTraining.BpeTrainer.Learn"/>; for span
    /// with T5's specials, <see cref="Tokenizers.RunBpeSpanTokenizer"/>); 0 = the objective's byte tokenizer. mlm keeps
    /// its word vocabulary.</summary>
    public int EmbeddedBpeVocabSize { get; init; }
    public DeviceKind Device { get; init; } = DeviceKind.Auto;
    /// <summary>One process, replicas with gradients all-reduced (ddp) or shards (fsdp).</summary>
    public ParallelStrategy Strategy { get; init; } = ParallelStrategy.None;
    /// <summary>How the fsdp strategy shards (the other strategies refuse non-default values).</summary>
    public FsdpOptions Fsdp { get; init; } = new();
    public TrainingSettings Settings { get; init; } = new();
    public string? Out { get; init; }
    public string? Resume { get; init; }
    /// <summary>Continued pre-training: a new run starts from this folder's weights (an HF GPT-2, BERT or T5 folder,
    /// or one of our runs or checkpoints), with a fresh optimizer and schedule and the model's shape (<see cref="InitialModel"/>).</summary>
    public string? InitFrom { get; init; }
    /// <summary>With <see cref="InitFrom"/>: a domain tokenizer whose tokens the model lacks are appended to its
    /// vocabulary, each new row starting as the mean of its old pieces' rows (<see cref="TokenizerTraining.VocabularyExtension"/>).</summary>
    public string? ExtendVocab { get; init; }
    /// <summary>Round the vocabulary up to a multiple of 128 (50257 → 50304) for faster matrix products.</summary>
    public bool PadVocab { get; init; }
    public int? Layers { get; init; }
    public int? Dim { get; init; }
    public int? Heads { get; init; }
    public int? FeedForwardDim { get; init; }
    public int? MaxPositions { get; init; }
    /// <summary>Quantization-aware training of every linear layer (w8a8, w4a8, w8); null = none. With
    /// <see cref="Resume"/> of a run trained without it, QAT fine-tunes that run from where it stopped.</summary>
    public Tensors.QuantizationScheme? Qat { get; init; }
    /// <summary>Steps given explicitly when resuming (extends or shortens the saved schedule).</summary>
    public bool StepsGiven { get; init; }
    /// <summary><see cref="TrainingSettings.KeepCheckpoints"/> given explicitly when resuming (replaces the saved count).</summary>
    public bool KeepCheckpointsGiven { get; init; }
    /// <summary>The optimizer (<see cref="Optim.AdamWSettings.Optimizer"/>) given explicitly: resuming refuses one that
    /// differs from the checkpoint's rather than convert its moments.</summary>
    public bool OptimizerGiven { get; init; }
}
