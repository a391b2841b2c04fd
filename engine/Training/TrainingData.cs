using Engine.Data;
using Engine.Tokenizers;

namespace Engine.Training;

/// <summary>One opened training source: its name (the folder's), share, and splits.</summary>
/// <param name="Validation">The validation split; null for the sources after the first, whose validation a run does not score.</param>
sealed record OpenedSource(string Name, string Path, double Weight, TokenDataset Train, TokenDataset? Validation);

/// <summary>
/// Opens and checks the prepared folders of a run (the training sources of <see cref="TrainOptions.DataSources"/> and
/// the named validation sets of <see cref="TrainOptions.EvalData"/>) before anything is written, so a wrong weight, a
/// missing or empty folder or a folder made with another tokenizer fails the run with no run folder left behind.
/// </summary>
static class TrainingData
{
    /// <summary>The sources with the tokenizer they were all prepared with (the first source's); or, given the
    /// <paramref name="vocabulary"/> of a grown model, in its ids with its tokenizer.</summary>
    public static (ITokenizer Tokenizer, IReadOnlyList<OpenedSource> Sources) OpenSources(IReadOnlyList<DataSource> sources, RunVocabulary? vocabulary = null)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        PreparedDatasetMeta? first = null;
        ITokenizer? tokenizer = null;
        var opened = new List<OpenedSource>();
        foreach (var source in sources)
        {
            if (!(source.Weight > 0) || !double.IsFinite(source.Weight))
                throw new EngineException(EngineOption.Data, $"{EngineOption.Data} {source.Path}: the weight {source.Weight} is not a positive number; give each source a share above 0 (e.g. {EngineOption.Data} {source.Path}:1)");
            var (full, meta) = Describe(source.Path, EngineOption.Data);
            string name = DataSource.NameOf(full);
            if (!names.Add(name))
                throw new EngineException(EngineOption.Data, $"{EngineOption.Data} {source.Path}: another source is also named '{name}'; sources are reported by folder name, so give each {EngineOption.Data} folder its own name");
            if (vocabulary == null && first != null && meta.Tokenizer != first.Tokenizer)
                throw new EngineException(EngineOption.Data, $"{EngineOption.Data} {source.Path}: prepared with tokenizer '{meta.Tokenizer}', but {EngineOption.Data} {sources[0].Path} with '{first.Tokenizer}'; every source of a run must be prepared with the same tokenizer");
            first ??= meta;
            var prepared = vocabulary == null ? tokenizer ??= TokenizerFactory.Resolve(meta.Tokenizer) : TokenizerFactory.Resolve(meta.Tokenizer);
            var ids = vocabulary?.IdsFor(prepared, EngineOption.Data, source.Path);
            var train = InRunIds(OpenSplit(source.Path, full, meta, prepared, DatasetPreparer.TrainSplit, EngineOption.Data), ids);
            // The run's validation loss is the first source's; the others' validation splits are not read.
            var validation = opened.Count == 0 ? InRunIds(OpenSplit(source.Path, full, meta, prepared, DatasetPreparer.ValSplit, EngineOption.Data), ids) : null;
            opened.Add(new OpenedSource(name, full, source.Weight, train, validation));
        }
        return (vocabulary?.Tokenizer ?? tokenizer!, opened);
    }

    static TokenDataset InRunIds(TokenDataset data, int[]? ids) => ids == null ? data : data.Remapped(ids);

    /// <summary>The validation split of each named set, checked against the run's tokenizer.</summary>
    public static IReadOnlyList<(string Name, TokenDataset Validation)> OpenEvalSets(IReadOnlyList<EvalDataSet> sets, ITokenizer tokenizer, RunVocabulary? vocabulary = null)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var opened = new List<(string, TokenDataset)>();
        foreach (var set in sets)
        {
            if (string.IsNullOrWhiteSpace(set.Name))
                throw new EngineException(EngineOption.EvalData, $"{EngineOption.EvalData} {set.Path}: the set needs a name (NAME=DIR), which metrics record its loss under");
            if (!names.Add(set.Name))
                throw new EngineException(EngineOption.EvalData, $"{EngineOption.EvalData} {set.Name}={set.Path}: the name '{set.Name}' is given twice; name each set once");
            var (full, meta) = Describe(set.Path, EngineOption.EvalData);
            if (vocabulary != null)
            {
                var prepared = TokenizerFactory.Resolve(meta.Tokenizer);
                var ids = vocabulary.IdsFor(prepared, EngineOption.EvalData, $"{set.Name}={set.Path}");
                opened.Add((set.Name, InRunIds(OpenSplit(set.Path, full, meta, prepared, DatasetPreparer.ValSplit, EngineOption.EvalData), ids)));
                continue;
            }
            if (meta.Tokenizer != tokenizer.Name)
                throw new EngineException(EngineOption.EvalData, $"{EngineOption.EvalData} {set.Name}={set.Path}: prepared with tokenizer '{meta.Tokenizer}', but the run trains with '{tokenizer.Name}'; prepare it with the run's tokenizer");
            opened.Add((set.Name, OpenSplit(set.Path, full, meta, tokenizer, DatasetPreparer.ValSplit, EngineOption.EvalData)));
        }
        return opened;
    }

    /// <summary>The folder's full path and meta.json, or an error naming the flag that gave it.</summary>
    static (string Full, PreparedDatasetMeta Meta) Describe(string path, EngineOption option)
    {
        string full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
            throw new EngineException(option, $"{option} {path}: no such folder; make it with `trainer prepare {EngineOption.Input} … {EngineOption.Tokenizer} … {EngineOption.Out} {path}`");
        var meta = PreparedDatasetMeta.LoadIfPresent(full)
            ?? throw new EngineException(option, $"{option} {path}: no {PreparedDatasetMeta.FileName} there; make the folder with `trainer prepare {EngineOption.Input} … {EngineOption.Tokenizer} … {EngineOption.Out} {path}`");
        return (full, meta);
    }

    /// <summary>A split with at least one token, or an error naming the flag and the folder.</summary>
    static TokenDataset OpenSplit(string path, string full, PreparedDatasetMeta meta, ITokenizer tokenizer, string split, EngineOption option)
    {
        string what = split == DatasetPreparer.ValSplit ? "validation" : "training";
        long expected = split == DatasetPreparer.ValSplit ? meta.ValTokens : meta.TrainTokens;
        bool hasShards = Directory.EnumerateFiles(full, $"{split}_*.bin").Any();
        if (expected == 0 || !hasShards)
            throw new EngineException(option, $"{option} {path}: the {what} split is empty (no tokens); prepare the folder again with more text{(split == DatasetPreparer.ValSplit ? " and a validation fraction above 0" : "")}");
        var data = TokenDataset.Open(full, tokenizer.VocabSize, split);
        if (data.Count == 0)
            throw new EngineException(option, $"{option} {path}: the {what} split is empty (no tokens); prepare the folder again with more text");
        return data;
    }
}
