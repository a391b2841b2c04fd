namespace Engine.Training;

/// <summary>What the user asked for on the command line (or a test through the API), before anything is built.</summary>
public sealed record TrainOptions
{
    public string Objective { get; init; } = "clm";
    /// <summary>A preset name (gpt2-tiny, bert-tiny, …); null = the objective's default (<see cref="Models.Presets.DefaultFor"/>).</summary>
    public string? Model { get; init; }
    /// <summary>A prepared folder (`trainer prepare`), a .bin shard or a glob; null = <see cref="EmbeddedText"/>.</summary>
    public string? Data { get; init; }
    /// <summary>The text a run without <see cref="Data"/> trains on, and a resumed run that did; called only then. The
    /// engine has no text of its own to fall back on: the trainer passes its demo corpus here.</summary>
    public Func<Data.EmbeddedText>? EmbeddedText { get; init; }
    public string Device { get; init; } = "auto";
    /// <summary>none (one process), ddp (replicas, gradients all-reduced) or fsdp (sharded).</summary>
    public string Strategy { get; init; } = "none";
    /// <summary>How --strategy fsdp shards (ignored by the other strategies, which refuse non-default values).</summary>
    public Distributed.FsdpOptions Fsdp { get; init; } = new();
    public TrainingSettings Settings { get; init; } = new();
    public string? Out { get; init; }
    public string? Resume { get; init; }
    /// <summary>Round the vocabulary up to a multiple of 128 (50257 → 50304) for faster matrix products.</summary>
    public bool PadVocab { get; init; }
    public int? Layers { get; init; }
    public int? Dim { get; init; }
    public int? Heads { get; init; }
    public int? FeedForwardDim { get; init; }
    public int? MaxPositions { get; init; }
    /// <summary>Steps given explicitly when resuming (extends or shortens the saved schedule).</summary>
    public bool StepsGiven { get; init; }
}
