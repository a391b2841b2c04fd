using System.Globalization;
using Engine.Models;
using Engine.Objectives;

namespace Engine.Training;

/// <summary>
/// What a resumed run takes from the options and what it keeps from its checkpoint. Every train option is one of:
/// <list type="bullet">
/// <item><b>fixed</b> by the checkpoint (<see cref="Fixed"/>): it shapes the weights, the optimizer's moments, the data
/// stream or the schedule the run has followed so far. Given with the checkpoint's value it is fine; given with another
/// it is a conflict, and <see cref="Check"/> refuses the resume with every conflict listed at once (flag, given value,
/// checkpointed value) rather than train on silently with the checkpoint's value.</item>
/// <item><b>may change</b> on resume (<see cref="MayChange"/>): how long to train, how often to save and evaluate, where
/// and on how many ranks to run. <see cref="Merge"/> takes them from the options and <see cref="Changes"/> lists what
/// differs from the checkpoint, for the front end to echo.</item>
/// </list>
/// Which options were given: <see cref="TrainOptions.Given"/>, or (an API caller who left it null) those whose value
/// differs from a new <see cref="TrainOptions"/>'s (<see cref="GivenOf"/>).
/// </summary>
public static class ResumeConflicts
{
    /// <summary>An option given on resume that contradicts the checkpoint, both values as the user would write them.</summary>
    public sealed record Conflict(EngineOption Option, string Given, string Checkpointed);

    /// <summary>An option a resumed run takes from the options, with the value the checkpoint's run had.</summary>
    public sealed record Change(EngineOption Option, string Given, string Was);

    /// <summary>A fixed option: how to read it from the options (also to tell whether an API caller set it) and how to
    /// compare it with the checkpoint (null: no conflict).</summary>
    sealed record Rule(EngineOption Option, Func<TrainOptions, object?> Value, Func<TrainOptions, TrainerState, Conflict?> Compare);

    static Rule Same<T>(EngineOption option, Func<TrainOptions, T> given, Func<TrainerState, T> saved, Func<T, string>? format = null,
        Func<TrainerState, bool>? appliesTo = null) =>
        new(option, o => given(o), (o, s) =>
            appliesTo?.Invoke(s) == false || EqualityComparer<T>.Default.Equals(given(o), saved(s)) ? null
                : new Conflict(option, (format ?? Text)(given(o)), (format ?? Text)(saved(s))));

    static readonly Rule[] Rules =
    [
        Same(EngineOption.Objective, o => o.Objective, s => s.Objective, o => o.Name()),
        new(EngineOption.Model, o => o.Model, ModelConflict),
        new(EngineOption.Data, o => GivenSources(o).Count > 0 ? GivenSources(o) : null, DataConflict),
        new(EngineOption.EmbeddedBpe, o => o.EmbeddedBpeVocabSize, EmbeddedBpeConflict),
        Same(EngineOption.PadVocab, o => o.PadVocab, s => s.Model.PaddedVocabSize != s.Model.VocabSize),
        Same(EngineOption.Layers, o => o.Layers, s => (int?)s.Model.Layers),
        Same(EngineOption.Dim, o => o.Dim, s => (int?)s.Model.Dim),
        Same(EngineOption.Heads, o => o.Heads, s => (int?)s.Model.Heads),
        Same(EngineOption.FeedForwardDim, o => o.FeedForwardDim, s => (int?)s.Model.FeedForwardDim),
        Same(EngineOption.MaxPositions, o => o.MaxPositions, s => (int?)s.Model.MaxPositions),
        // A scheme may be added to a run trained without one (QAT fine-tuning, TrainingJob.ResumedConfig); a run that
        // has one keeps it: its learnt steps belong to its own bit widths.
        Same(EngineOption.Qat, o => o.Qat, s => s.Model.Qat, q => q?.ToString() ?? "none", appliesTo: s => s.Model.Qat != null),
        Same(EngineOption.Precision, o => o.Settings.Precision, s => s.Settings.Precision, p => p.ToString().ToLowerInvariant()),
        Same(EngineOption.Seed, o => o.Settings.Seed, s => s.Settings.Seed),
        // The global batch sets the data position per step and what a learning rate means.
        Same(EngineOption.GlobalBatch, o => o.Settings.GlobalBatch, s => s.Settings.GlobalBatch),
        Same(EngineOption.SequenceLength, o => o.Settings.SequenceLength, s => s.Settings.SequenceLength),
        // The schedule so far was this one; a new peak, floor or warmup would jump the rate mid-run.
        Same(EngineOption.LearningRate, o => o.Settings.LearningRate, s => s.Settings.LearningRate),
        Same(EngineOption.MinLearningRateRatio, o => o.Settings.MinLearningRateRatio, s => s.Settings.MinLearningRateRatio),
        Same(EngineOption.WarmupSteps, o => o.Settings.WarmupSteps, s => s.Settings.WarmupSteps),
        Same(EngineOption.ClipNorm, o => o.Settings.ClipNorm, s => s.Settings.ClipNorm),
        Same(EngineOption.WeightDecay, o => o.Settings.AdamW.WeightDecay, s => s.Settings.AdamW.WeightDecay),
        Same(EngineOption.PositionBiasLearningRateScale, o => o.Settings.AdamW.PositionBiasLearningRateScale, s => s.Settings.AdamW.PositionBiasLearningRateScale),
        // QAT's step rates are the checkpoint's once it trains with QAT; a resume that adds QAT takes them from the options.
        Same(EngineOption.WeightStepLearningRateScale, o => o.Settings.AdamW.WeightStepLearningRateScale, s => s.Settings.AdamW.WeightStepLearningRateScale, appliesTo: s => s.Model.Qat != null),
        Same(EngineOption.InputStepLearningRateScale, o => o.Settings.AdamW.InputStepLearningRateScale, s => s.Settings.AdamW.InputStepLearningRateScale, appliesTo: s => s.Model.Qat != null),
        // The moments resume only as they were saved (fp32 or 8-bit blocks); converting them is not done.
        Same(EngineOption.Optimizer, o => o.Settings.AdamW.Optimizer, s => s.Settings.AdamW.Optimizer, k => k == Optim.OptimizerKind.AdamW8Bit ? "adamw8bit" : "adamw"),
        // fp16's scale goes on from the checkpoint's (TrainerState.LossScale): a starting scale has nothing to start.
        Same(EngineOption.InitialLossScale, o => o.Settings.InitialLossScale, s => s.Settings.InitialLossScale),
        Same(EngineOption.MaskProbability, o => o.Settings.MaskProbability, s => s.Settings.MaskProbability),
        Same(EngineOption.WholeWordMasking, o => o.Settings.WholeWordMasking, s => s.Settings.WholeWordMasking),
        Same(EngineOption.NoiseDensity, o => o.Settings.NoiseDensity, s => s.Settings.NoiseDensity),
        Same(EngineOption.MeanSpanLength, o => o.Settings.MeanSpanLength, s => s.Settings.MeanSpanLength),
        // A resumed run is not a new one started from weights (TrainingJob.Prepare refuses both together).
        Same(EngineOption.InitFrom, o => o.InitFrom, s => (string?)null),
        Same(EngineOption.ExtendVocab, o => o.ExtendVocab, s => (string?)null),
    ];

    /// <summary>
    /// Options a resumed run takes from the options, each for a reason:
    /// <list type="bullet">
    /// <item>Steps: extends (or shortens, never below the step reached) the run; the cosine decay stretches to the new end.</item>
    /// <item>CheckpointEvery, EvalEvery: bookkeeping, no effect on the weights.</item>
    /// <item>EvalBatches, EvalData: what validation scores (the run's split in EvalBatches micro-batches; named sets).
    /// They change the figures reported from here on, never the training, and are echoed.</item>
    /// <item>MicroBatch: only how a step's global batch is split into forward/backward passes. The step draws the same
    /// sequences from the same data position, and the accumulated gradient is their mean, equal up to float rounding;
    /// the resume stays faithful though no longer bit for bit. It must be free: the checkpoint resumes on any world size
    /// and device, and a micro-batch that fitted one rank's memory or split the batch over N ranks may not over M
    /// (the out-of-memory errors name it as the fix). Validation scores EvalBatches micro-batches, so its size
    /// follows: the echo says so.</item>
    /// <item>Device, Strategy and the FSDP options, Out: where and on how many ranks; the checkpoint holds full weights and one
    /// global data position.</item>
    /// <item>Resume itself, and the options a front end adds later for its own bookkeeping (keeping checkpoints,
    /// guards) unless listed in <see cref="Fixed"/>.</item>
    /// </list>
    /// </summary>
    public static readonly IReadOnlyList<EngineOption> MayChange =
    [
        EngineOption.Steps, EngineOption.CheckpointEvery, EngineOption.EvalEvery, EngineOption.EvalBatches, EngineOption.EvalData,
        EngineOption.MicroBatch, EngineOption.Device, EngineOption.Strategy, EngineOption.ReshardAfterForward, EngineOption.ShardingFactor,
        EngineOption.CpuOffload, EngineOption.FsdpOverlap, EngineOption.Out, EngineOption.Resume,
        EngineOption.MaxSkippedSteps, EngineOption.Divergence, EngineOption.KeepCheckpoints,
    ];

    /// <summary>Options fixed by the checkpoint: given on resume, they must hold its value.</summary>
    public static readonly IReadOnlyList<EngineOption> Fixed = Rules.Select(r => r.Option).ToList();

    /// <summary>The options the caller gave: <see cref="TrainOptions.Given"/>, or when that is null (an API caller)
    /// every option whose value differs from a new <see cref="TrainOptions"/>'s. An API caller who sets a value equal
    /// to the default and wants it checked names it in <see cref="TrainOptions.Given"/>.</summary>
    public static IReadOnlySet<EngineOption> GivenOf(TrainOptions options)
    {
        if (options.Given != null) return options.Given;
        var defaults = new TrainOptions();
        var given = Rules.Where(r => !Equals(r.Value(options), r.Value(defaults))).Select(r => r.Option).ToHashSet();
        var (s, d) = (options.Settings, defaults.Settings);
        if (s.Steps != d.Steps) given.Add(EngineOption.Steps);
        if (s.CheckpointEvery != d.CheckpointEvery) given.Add(EngineOption.CheckpointEvery);
        if (s.EvalEvery != d.EvalEvery) given.Add(EngineOption.EvalEvery);
        if (s.EvalBatches != d.EvalBatches) given.Add(EngineOption.EvalBatches);
        if (s.MicroBatch != d.MicroBatch) given.Add(EngineOption.MicroBatch);
        if (s.MaxSkippedSteps != d.MaxSkippedSteps) given.Add(EngineOption.MaxSkippedSteps);
        if (s.Divergence != d.Divergence) given.Add(EngineOption.Divergence);
        if (s.KeepCheckpoints != d.KeepCheckpoints) given.Add(EngineOption.KeepCheckpoints);
        if (options.EvalData.Count > 0) given.Add(EngineOption.EvalData);
        return given;
    }

    /// <summary>Every fixed option given with a value other than the checkpoint's, in the order of <see cref="Fixed"/>.</summary>
    public static IReadOnlyList<Conflict> Find(TrainOptions options, TrainerState saved)
    {
        var given = GivenOf(options);
        return Rules.Where(r => given.Contains(r.Option)).Select(r => r.Compare(options, saved)).OfType<Conflict>().ToList();
    }

    /// <summary>Refuses the resume when any fixed option contradicts the checkpoint, listing every conflict.</summary>
    public static void Check(TrainOptions options, TrainerState saved)
    {
        var conflicts = Find(options, saved);
        if (conflicts.Count == 0) return;
        var message = Parts(EngineOption.Resume, $" {options.Resume}: {(conflicts.Count == 1 ? "this option contradicts" : "these options contradict")} the checkpoint (step {saved.Step}): ");
        for (int i = 0; i < conflicts.Count; i++)
            message += (i > 0 ? Plain(", ") : Plain("")) + Parts(conflicts[i].Option, $" {conflicts[i].Given} (checkpoint: {conflicts[i].Checkpointed})");
        message += Plain($"; leave {(conflicts.Count == 1 ? "it" : "them")} out to continue the run, or start a new run with ") + Parts(EngineOption.Out, "");
        // The option at fault is the first listed (the only one, most often); the message names them all.
        throw new EngineException(conflicts[0].Option, message);
    }

    /// <summary>The settings a resumed run trains with: the checkpoint's, with the may-change options given taken from the options.</summary>
    public static TrainingSettings Merge(TrainingSettings saved, TrainOptions options)
    {
        var given = GivenOf(options);
        var o = options.Settings;
        return saved with
        {
            Steps = given.Contains(EngineOption.Steps) ? o.Steps : saved.Steps,
            CheckpointEvery = given.Contains(EngineOption.CheckpointEvery) ? o.CheckpointEvery : saved.CheckpointEvery,
            EvalEvery = given.Contains(EngineOption.EvalEvery) ? o.EvalEvery : saved.EvalEvery,
            EvalBatches = given.Contains(EngineOption.EvalBatches) ? o.EvalBatches : saved.EvalBatches,
            MicroBatch = given.Contains(EngineOption.MicroBatch) ? o.MicroBatch : saved.MicroBatch,
            MaxSkippedSteps = given.Contains(EngineOption.MaxSkippedSteps) ? o.MaxSkippedSteps : saved.MaxSkippedSteps,
            Divergence = given.Contains(EngineOption.Divergence) ? o.Divergence : saved.Divergence,
            KeepCheckpoints = given.Contains(EngineOption.KeepCheckpoints) ? o.KeepCheckpoints : saved.KeepCheckpoints,
        };
    }

    /// <summary>What the merged settings change from the checkpoint's, for the front end to echo.</summary>
    public static IReadOnlyList<Change> Changes(TrainingSettings saved, TrainingSettings merged)
    {
        var changes = new List<Change>();
        void Add(EngineOption option, int was, int now) { if (was != now) changes.Add(new Change(option, Text(now), Text(was))); }
        Add(EngineOption.Steps, saved.Steps, merged.Steps);
        Add(EngineOption.CheckpointEvery, saved.CheckpointEvery, merged.CheckpointEvery);
        Add(EngineOption.EvalEvery, saved.EvalEvery, merged.EvalEvery);
        Add(EngineOption.EvalBatches, saved.EvalBatches, merged.EvalBatches);
        Add(EngineOption.MicroBatch, saved.MicroBatch, merged.MicroBatch);
        Add(EngineOption.MaxSkippedSteps, saved.MaxSkippedSteps, merged.MaxSkippedSteps);
        Add(EngineOption.KeepCheckpoints, saved.KeepCheckpoints, merged.KeepCheckpoints);
        if (saved.Divergence != merged.Divergence)
            changes.Add(new Change(EngineOption.Divergence, merged.Divergence.ToString().ToLowerInvariant(), saved.Divergence.ToString().ToLowerInvariant()));
        return changes;
    }

    /// <summary>The line a front end prints on resume ("resuming at step 40 with Steps 100 (was 60), …"); null when
    /// nothing changes.</summary>
    public static OptionMessage? Describe(int step, TrainingSettings saved, TrainingSettings merged)
    {
        var changes = Changes(saved, merged);
        if (changes.Count == 0) return null;
        var message = Plain($"resuming at step {step} with ");
        for (int i = 0; i < changes.Count; i++)
            message += (i > 0 ? Plain(", ") : Plain("")) + Parts(changes[i].Option, $" {changes[i].Given} (was {changes[i].Was})");
        int before = saved.MicroBatch * saved.EvalBatches, after = merged.MicroBatch * merged.EvalBatches;
        if (before != after)
            message += Plain($"; validation now scores up to {after} sequences (was {before}), so its loss is not comparable with the earlier values");
        return message;
    }

    /// <summary>Refuses a resume with nothing left to train: the run reached its steps (a finished run, whose summary
    /// a resume would overwrite with nothing), or the steps given end at or before the step reached.</summary>
    public static void CheckStepsLeft(TrainOptions options, TrainerState saved, TrainingSettings merged)
    {
        if (saved.Step < merged.Steps) return;
        bool given = GivenOf(options).Contains(EngineOption.Steps) && merged.Steps != saved.Settings.Steps;
        var message = given
            ? Parts(EngineOption.Resume, $" {options.Resume}: the run is at step {saved.Step}, so ") + Parts(EngineOption.Steps, $" {merged.Steps} leaves nothing to train: give ")
            : Parts(EngineOption.Resume, $" {options.Resume}: the run finished at step {saved.Step} of {saved.Settings.Steps}: give ");
        throw new EngineException(EngineOption.Steps, message + Parts(EngineOption.Steps, $" N above {saved.Step} to extend it"));
    }

    static Conflict? ModelConflict(TrainOptions options, TrainerState saved)
    {
        if (options.Model == null) return null;
        var shape = TrainingJob.PresetShape(options);
        if (SameShape(shape, saved.Model)) return null;
        string? preset = Presets.Names.FirstOrDefault(n => SameShape(Presets.Get(n), saved.Model));
        return new Conflict(EngineOption.Model, options.Model, preset ?? Shape(saved.Model));
    }

    static bool SameShape(TransformerConfig a, TransformerConfig b) =>
        a.Family == b.Family && a.Layers == b.Layers && a.DecoderLayerCount == b.DecoderLayerCount && a.Dim == b.Dim && a.Heads == b.Heads
        && a.HeadSize == b.HeadSize && a.FeedForwardDim == b.FeedForwardDim && a.MaxPositions == b.MaxPositions;

    static string Shape(TransformerConfig c) =>
        $"{c.Layers} layers, width {c.Dim}, {c.Heads} heads, feed-forward {c.FeedForwardDim}, {c.MaxPositions} positions";

    static IReadOnlyList<DataSource> GivenSources(TrainOptions o) =>
        o.DataSources.Count > 0 ? o.DataSources : o.Data != null ? [new DataSource(o.Data)] : [];

    static IReadOnlyList<DataSource> SavedSources(TrainerState s) =>
        s.Sources ?? (s.Data == TrainingJob.EmbeddedData ? [] : [new DataSource(s.Data)]);

    static Conflict? DataConflict(TrainOptions options, TrainerState saved)
    {
        var (given, had) = (GivenSources(options), SavedSources(saved));
        bool same = given.Count == had.Count && given.Zip(had).All(p => FullPath(p.First.Path) == FullPath(p.Second.Path) && p.First.Weight == p.Second.Weight);
        return same ? null : new Conflict(EngineOption.Data, Sources(given), Sources(had));
    }

    static string FullPath(string path) => Path.GetFullPath(path).TrimEnd('/', '\\');

    static string Sources(IReadOnlyList<DataSource> sources) => sources.Count == 0 ? "the embedded text"
        : string.Join(" + ", sources.Select(s => s.Weight == 1 && sources.Count == 1 ? s.Path : $"{s.Path}:{Text(s.Weight)}"));

    /// <summary>The embedded text is read with the objective's byte tokenizer (0) or a BPE learnt from it when the run
    /// started; the BPE stops where no pair is left to merge, so any size at or above the one it reached learns the same.</summary>
    static Conflict? EmbeddedBpeConflict(TrainOptions options, TrainerState saved)
    {
        if (saved.Data != TrainingJob.EmbeddedData || saved.InitFrom != null || saved.Objective == TrainingObjective.Mlm) return null;
        int asked = options.EmbeddedBpeVocabSize;
        bool learnt = saved.Tokenizer == Tokenizers.RunBpeTokenizer.SpecName;
        int reached = saved.Model.VocabSize;
        if (learnt ? asked >= reached : asked == 0) return null;
        return new Conflict(EngineOption.EmbeddedBpe, Text(asked), learnt ? $"a BPE of {reached} tokens, from at least {reached}" : "0, bytes");
    }

    static string Text<T>(T value) => value switch
    {
        null => "none",
        float f => f.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    static OptionMessage Plain(string text) => OptionMessage.Plain(text);

    /// <summary>An option named by key followed by text.</summary>
    static OptionMessage Parts(EngineOption option, string after) => OptionMessage.FromParts(after.Length > 0 ? [option, after] : [option]);
}
