namespace Engine.Data;

/// <summary>
/// The tokens of one split (all its shards, in file order) as one sequence addressed by position.
/// <para>
/// Storage choice: one managed int[] holding every token (4 bytes a token). Up to a few hundred million tokens
/// (≈2 GB for 500M) this is the simplest and fastest option, and positions are plain indices. Larger corpora should
/// keep a <see cref="TokenShardReader"/> (memory-mapped) per shard instead; callers only use <see cref="Count"/>, the
/// indexer and <see cref="CopyTo"/>, so that change stays inside this class.
/// </para>
/// </summary>
public sealed class TokenDataset
{
    private readonly int[] _tokens;

    public string Name { get; }
    public long Count => _tokens.Length;
    public IReadOnlyList<TokenDatasetShard> Shards { get; }

    /// <summary>The prepared folder's meta.json when opened from a folder that has one.</summary>
    public PreparedDatasetMeta? Meta { get; }

    private TokenDataset(string name, int[] tokens, IReadOnlyList<TokenDatasetShard> shards, PreparedDatasetMeta? meta)
    {
        Name = name;
        _tokens = tokens;
        Shards = shards;
        Meta = meta;
    }

    /// <summary>
    /// Opens <paramref name="path"/>: a prepared folder (its <c>{split}_*.bin</c> shards), a single .bin shard, or a glob
    /// whose file name holds * or ? (e.g. <c>data/train_*.bin</c>). Every token id is checked against
    /// <paramref name="vocabSize"/>, the model's vocabulary, so bad data fails here rather than as an index error in the
    /// embedding on step 1.
    /// </summary>
    public static TokenDataset Open(string path, int vocabSize, string split = DatasetPreparer.TrainSplit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        PreparedDatasetMeta? meta = Directory.Exists(path) ? PreparedDatasetMeta.LoadIfPresent(path) : null;
        IReadOnlyList<string> files = ResolveShardFiles(path, split);

        var headers = files.Select(TokenShard.ReadHeader).ToList();
        long total = headers.Sum(header => header.TokenCount);
        if (total > Array.MaxLength)
            throw new DataException(
                $"tokens {path}: {total:N0} tokens are more than one in-memory array holds ({Array.MaxLength:N0}); " +
                "open fewer shards (a glob) or extend TokenDataset to memory-map its shards");

        var tokens = new int[total];
        var shards = new List<TokenDatasetShard>(files.Count);
        long start = 0;
        foreach (string file in files)
        {
            using FileStream stream = TokenShard.OpenForReading(file);
            // Re-read rather than reuse: the header must describe the bytes actually read.
            TokenShardHeader header = TokenShard.ReadHeader(stream, file);
            if (start + header.TokenCount > total)
                throw new DataFormatException($"tokens file {file}: changed while being read; try again");
            Span<int> destination = tokens.AsSpan((int)start, (int)header.TokenCount);
            TokenShard.ReadBody(stream, header, destination);
            CheckVocabulary(destination, vocabSize, file, meta);
            shards.Add(new TokenDatasetShard(file, start, header.TokenCount));
            start += header.TokenCount;
        }
        return new TokenDataset(path, tokens, shards, meta);
    }

    /// <summary>An in-memory corpus (tests, tiny experiments); <paramref name="tokens"/> is used, not copied.</summary>
    public static TokenDataset FromTokens(int[] tokens, string name)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return new TokenDataset(name, tokens, [new TokenDatasetShard(name, 0, tokens.Length)], meta: null);
    }

    /// <summary>The same tokens in another vocabulary's ids: token t becomes <paramref name="ids"/>[t] (data prepared
    /// with a domain tokenizer, read by a model whose vocabulary grew with that tokenizer's tokens).</summary>
    public TokenDataset Remapped(int[] ids)
    {
        var mapped = new int[_tokens.Length];
        for (int i = 0; i < mapped.Length; i++)
        {
            int id = ids[_tokens[i]];
            if (id < 0) throw new DataFormatException($"tokens {Name}: token id {_tokens[i]} at position {i} has no token in the run's vocabulary");
            mapped[i] = id;
        }
        return new TokenDataset(Name, mapped, Shards, Meta);
    }

    public int this[long index] => _tokens[index];

    /// <summary>Copies <c>destination.Length</c> tokens starting at <paramref name="start"/> (no wrap-around).</summary>
    public void CopyTo(long start, Span<int> destination) =>
        _tokens.AsSpan(checked((int)start), destination.Length).CopyTo(destination);

    /// <summary>Throws naming the shard and position of the first id outside 0..vocabSize-1.</summary>
    public void ValidateVocabulary(int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        foreach (TokenDatasetShard shard in Shards)
            CheckVocabulary(_tokens.AsSpan((int)shard.Start, (int)shard.Count), vocabSize, shard.Path, Meta);
    }

    private static void CheckVocabulary(ReadOnlySpan<int> tokens, int vocabSize, string source, PreparedDatasetMeta? meta)
    {
        int position = tokens.IndexOfAnyExceptInRange(0, vocabSize - 1);
        if (position < 0) return;
        // uint32 shards can hold ids above int.MaxValue; they arrive negative and are shown as stored.
        uint id = (uint)tokens[position];
        string preparedWith = meta is null ? "" : $" (it was prepared with tokenizer '{meta.Tokenizer}', vocabulary {meta.VocabSize})";
        throw new DataFormatException(EngineOption.VocabSize,
            $"token id {id} at position {position} of {source} is ≥ the model's vocabulary {vocabSize}{preparedWith}: prepare the data with the model's tokenizer or pass {EngineOption.VocabSize}");
    }

    private static IReadOnlyList<string> ResolveShardFiles(string path, string split)
    {
        if (Directory.Exists(path))
        {
            List<string> files = SortedFiles(path, $"{split}_*.bin");
            if (files.Count > 0) return files;
            if (split == DatasetPreparer.ValSplit)
                throw new DataException($"prepared folder {path}: has no {split}_*.bin shards: prepare it with a validation fraction above 0, or evaluate on another folder");
            throw new DataException(EngineOption.Out, $"prepared folder {path}: has no {split}_*.bin shards: run `trainer prepare {EngineOption.Out} {path}` first");
        }
        if (File.Exists(path)) return [path];

        string fileName = Path.GetFileName(path);
        if (fileName.AsSpan().IndexOfAny('*', '?') >= 0)
        {
            string folder = Path.GetDirectoryName(path) is { Length: > 0 } directory ? directory : ".";
            if (folder.AsSpan().IndexOfAny('*', '?') >= 0)
                throw new DataException($"tokens {path}: only the file name may hold wildcards, e.g. data/train_*.bin");
            List<string> files = Directory.Exists(folder) ? SortedFiles(folder, fileName) : [];
            if (files.Count == 0) throw new DataException($"tokens {path}: no files match");
            return files;
        }
        throw new DataFormatException(
            $"tokens {path}: not found (expected a prepared folder, a .bin token shard, or a glob such as data/train_*.bin)");
    }

    // Ordinal order so that train_000010.bin follows train_000009.bin identically on every machine.
    private static List<string> SortedFiles(string folder, string pattern) =>
        Directory.EnumerateFiles(folder, pattern).Order(StringComparer.Ordinal).ToList();
}
