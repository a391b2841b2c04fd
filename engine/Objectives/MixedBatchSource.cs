using Engine.Data;

namespace Engine.Objectives;

/// <summary>
/// Training batches drawn from several sources (prepared folders, each behind its own objective: its own loader,
/// position and masking), each row's source chosen by <see cref="SourceSchedule"/>. Each source gives its rows of a
/// micro-batch as one block of consecutive windows, dealt into the rows the schedule gave it, so a source's data is
/// read in the same order whatever the batch or micro-batch size. Validation is the first source's.
/// <para>
/// State: the first source's own keys unchanged (position, epoch, dataset_tokens: a one-source run saves what a plain
/// run saved), every other source's keys prefixed "source{i}.", and the schedule's counts as "mix.sequences.{i}".
/// </para>
/// </summary>
public sealed class MixedBatchSource : IBatchSource
{
    public sealed record Source(string Name, double Weight, IBatchSource Data);

    const string SourcePrefix = "source", CountPrefix = "mix.sequences.";
    readonly IReadOnlyList<Source> sources;
    readonly SourceSchedule schedule;

    public MixedBatchSource(IReadOnlyList<Source> sources)
    {
        if (sources.Count == 0) throw new ArgumentException("a mixture needs at least one source", nameof(sources));
        this.sources = sources;
        schedule = new SourceSchedule(sources.Select(s => s.Weight).ToList());
    }

    public string Objective => sources[0].Data.Objective;

    /// <summary>Sequences each source has given so far (the whole run, resumes included), by source name.</summary>
    public IReadOnlyDictionary<string, long>? SequencesBySource => sources.Select((s, i) => (s.Name, schedule.Drawn[i])).ToDictionary(p => p.Name, p => p.Item2);

    public Batch NextTrainBatch(int sequences, int T)
    {
        var slots = new int[sequences];
        var rows = new int[sources.Count];
        for (int row = 0; row < sequences; row++) rows[slots[row] = schedule.Next()]++;
        // One source: its batch as it is, so a run on one folder, weighted or not, is bit for bit the plain run.
        if (sources.Count == 1) return sources[0].Data.NextTrainBatch(sequences, T);
        var parts = new Batch?[sources.Count];
        for (int i = 0; i < parts.Length; i++)
            if (rows[i] > 0) parts[i] = sources[i].Data.NextTrainBatch(rows[i], T);
        return Batch.Interleave(parts, slots);
    }

    public IReadOnlyList<Batch> ValidationBatches(int sequences, int T, int maxBatches) => sources[0].Data.ValidationBatches(sequences, T, maxBatches);

    public Dictionary<string, long> SaveState()
    {
        var state = new Dictionary<string, long>(sources[0].Data.SaveState());
        for (int i = 1; i < sources.Count; i++)
            foreach (var (key, value) in sources[i].Data.SaveState()) state[$"{SourcePrefix}{i}.{key}"] = value;
        for (int i = 0; i < sources.Count; i++) state[CountPrefix + i] = schedule.Drawn[i];
        return state;
    }

    public void RestoreState(IReadOnlyDictionary<string, long> state)
    {
        // The first source's keys are those without a dot (a checkpoint of a plain run holds only these).
        sources[0].Data.RestoreState(state.Where(kv => !kv.Key.Contains('.')).ToDictionary());
        for (int i = 1; i < sources.Count; i++)
        {
            string prefix = $"{SourcePrefix}{i}.";
            var own = state.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
            if (own.Count == 0)
                throw new DataFormatException($"saved data position: nothing for source {i} ({sources[i].Name}); the checkpoint was made with fewer data sources");
            sources[i].Data.RestoreState(own);
        }
        var counts = new long[sources.Count];
        for (int i = 0; i < counts.Length; i++)
        {
            // A checkpoint from before mixtures (one source) has no counts; with one source they choose nothing.
            if (state.TryGetValue(CountPrefix + i, out long count)) counts[i] = count;
            else if (sources.Count > 1) throw new DataFormatException($"saved data position: '{CountPrefix}{i}' is missing; the checkpoint's training state is incomplete");
        }
        schedule.Restore(counts);
    }
}
