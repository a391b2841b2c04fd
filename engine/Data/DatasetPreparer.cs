using Engine.Tokenizers;

namespace Engine.Data;

/// <summary>
/// Turns raw text (.txt, .jsonl, folders) into a prepared folder: train_NNNNNN.bin and val_NNNNNN.bin token shards in
/// llm.c's format plus meta.json. Each document is preceded by the tokenizer's end-of-text token (GPT-2's convention),
/// so a model sees document boundaries and the first token of every training window has a real context.
/// </summary>
public static class DatasetPreparer
{
    public const string TrainSplit = "train";
    public const string ValSplit = "val";

    public static PrepareSummary Prepare(
        IReadOnlyList<string> inputs,
        ITokenizer tokenizer,
        string outDir,
        double valFraction = 0.05,
        int shardTokens = 100_000_000,
        Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardTokens);
        IReadOnlyList<string> files = CorpusFiles.ResolveInputs(inputs);
        PrepareOutputFolder(outDir);

        long documents = CorpusFiles.CountDocuments(files);
        if (documents == 0)
            throw new DataException($"inputs {string.Join(", ", inputs)}: hold no documents (only blank .jsonl lines?)");
        var split = new ValidationSplit(documents, valFraction);
        progress?.Invoke($"{files.Count} input file(s), {documents:N0} document(s); {split.ValidationDocuments:N0} go to validation");

        var train = new ShardSetWriter(outDir, TrainSplit, shardTokens, tokenizer.VocabSize, progress);
        var val = new ShardSetWriter(outDir, ValSplit, shardTokens, tokenizer.VocabSize, progress);
        long index = 0, valDocuments = 0;
        string? currentSource = null;
        foreach (SourceDocument document in CorpusFiles.ReadDocuments(files))
        {
            if (document.Source != currentSource)
            {
                currentSource = document.Source;
                progress?.Invoke($"tokenizing {currentSource}");
            }
            int[] ids = tokenizer.Encode(document.Text);
            if (documents == 1)
            {
                WriteSingleDocument(ids, tokenizer.EndOfText, valFraction, train, val);
            }
            else
            {
                bool toValidation = split.IsValidation(index);
                ShardSetWriter writer = toValidation ? val : train;
                writer.Append(tokenizer.EndOfText);
                writer.Append(ids);
                if (toValidation) valDocuments++;
            }
            index++;
        }

        IReadOnlyList<string> trainFiles = train.Finish();
        IReadOnlyList<string> valFiles = val.Finish();
        RemoveStaleShards(outDir, trainFiles.Concat(valFiles));

        var meta = new PreparedDatasetMeta(tokenizer.Name, tokenizer.VocabSize, tokenizer.EndOfText, train.TokensWritten, val.TokensWritten);
        meta.Save(outDir);
        progress?.Invoke($"prepared {outDir}: {train.TokensWritten:N0} train tokens, {val.TokensWritten:N0} validation tokens");

        // A single document split by tokens counts in both splits.
        if (documents == 1) valDocuments = val.TokensWritten > 0 ? 1 : 0;
        long trainDocuments = documents == 1 ? 1 : documents - valDocuments;
        return new PrepareSummary(documents, trainDocuments, valDocuments, train.TokensWritten, val.TokensWritten,
            trainFiles, valFiles, PreparedDatasetMeta.PathIn(outDir));
    }

    // One document cannot be split by documents; its first tokens train and its last tokens validate.
    private static void WriteSingleDocument(int[] ids, int endOfText, double valFraction, ShardSetWriter train, ShardSetWriter val)
    {
        var tokens = new int[ids.Length + 1];
        tokens[0] = endOfText;
        ids.CopyTo(tokens, 1);
        int validation = ValidationSplit.ValidationTokensOfSingleDocument(tokens.Length, valFraction);
        train.Append(tokens.AsSpan(0, tokens.Length - validation));
        val.Append(tokens.AsSpan(tokens.Length - validation));
    }

    /// <summary>Creates the folder and proves it writable before hours of tokenizing, not after.</summary>
    private static void PrepareOutputFolder(string outDir)
    {
        try
        {
            Directory.CreateDirectory(outDir);
            string probe = Path.Combine(outDir, $".write-test-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new DataException(EngineOption.Out, $"output folder {outDir}: cannot create or write to it ({error.Message}); choose a writable {EngineOption.Out} folder", error);
        }
    }

    /// <summary>
    /// A previous, larger preparation in the same folder may have left train_000007.bin behind; loading it with the new
    /// shards would mix two corpora. Removed only after the new shards are complete.
    /// </summary>
    private static void RemoveStaleShards(string outDir, IEnumerable<string> written)
    {
        var keep = new HashSet<string>(written.Select(Path.GetFullPath), StringComparer.Ordinal);
        foreach (string split in new[] { TrainSplit, ValSplit })
            foreach (string file in Directory.EnumerateFiles(outDir, $"{split}_*.bin"))
                if (!keep.Contains(Path.GetFullPath(file)))
                    File.Delete(file);
    }
}
