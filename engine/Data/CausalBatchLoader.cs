namespace Engine.Data;

/// <summary>
/// Deterministic batches for next-token prediction. A global batch is B rows of T tokens: row g starts at
/// position + g·T and takes T + 1 consecutive tokens (T inputs; the same window shifted by one gives the targets), so
/// consecutive rows and batches tile the data without gaps. Reading past the end continues at the start
/// (the dataset is treated as a ring, and prepared data begins with end-of-text, so the seam is a document boundary)
/// and the epoch counts the wraps.
/// <para>
/// Data parallel: every rank constructs the loader with its rank and the world size and asks for the same global
/// B; rank r fills only rows [r·B/W, (r+1)·B/W) and all ranks advance the same position, so their rows are disjoint and
/// together are exactly the single-process batch. The state is therefore one <see cref="LoaderState"/> for all ranks.
/// </para>
/// </summary>
public sealed class CausalBatchLoader
{
    private readonly TokenDataset _data;
    private int[] _window = [];

    public int Rank { get; }
    public int WorldSize { get; }

    /// <summary>Position, in [0, dataset tokens), of the first token of the next global batch.</summary>
    public long Position { get; private set; }

    /// <summary>Completed passes over the dataset.</summary>
    public long Epoch { get; private set; }

    public LoaderState State => new(Position, Epoch, _data.Count);

    public CausalBatchLoader(TokenDataset data, int rank = 0, int worldSize = 1)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, worldSize);
        _data = data;
        Rank = rank;
        WorldSize = worldSize;
    }

    /// <summary>The rows of a global batch of <paramref name="sequences"/> rows that this rank reads.</summary>
    public (int FirstRow, int Rows) RowsOfRank(int sequences)
    {
        int first = (int)((long)Rank * sequences / WorldSize);
        int end = (int)((long)(Rank + 1) * sequences / WorldSize);
        return (first, end - first);
    }

    /// <summary>
    /// Fills this rank's rows of the next global batch of <paramref name="sequences"/> rows × <paramref name="T"/> tokens
    /// (all of them when WorldSize is 1) into the first Rows·T elements of <paramref name="inputs"/> and
    /// <paramref name="targets"/>, then advances by sequences·T tokens.
    /// </summary>
    public void NextBatch(Span<int> inputs, Span<int> targets, int sequences, int T)
    {
        CheckShape(sequences, T);
        (int firstRow, int rows) = RowsOfRank(sequences);
        int needed = checked(rows * T);
        if (inputs.Length < needed || targets.Length < needed)
            throw new ArgumentException(
                $"batch buffers hold {inputs.Length} inputs and {targets.Length} targets; rank {Rank} needs {rows} rows × {T} = {needed}");

        if (_window.Length != T + 1) _window = new int[T + 1];
        for (int row = 0; row < rows; row++)
        {
            long start = (Position + (long)(firstRow + row) * T) % _data.Count;
            ReadWrapped(start, _window);
            _window.AsSpan(0, T).CopyTo(inputs.Slice(row * T, T));
            _window.AsSpan(1, T).CopyTo(targets.Slice(row * T, T));
        }
        Advance((long)sequences * T);
    }

    /// <summary>Back to the start of the data, epoch 0.</summary>
    public void Reset()
    {
        Position = 0;
        Epoch = 0;
    }

    /// <summary>Continues from a saved state; refuses one taken on different data, which would silently change the run.</summary>
    public void Restore(LoaderState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.DatasetTokens != _data.Count)
            throw new DataException(
                $"saved data position was taken on a dataset of {state.DatasetTokens:N0} tokens but {_data.Name} holds {_data.Count:N0}: " +
                "the data changed since the checkpoint; resume with the same prepared data or start a fresh run");
        if (state.Position < 0 || state.Position >= _data.Count || state.Epoch < 0)
            throw new DataFormatException(
                $"saved data position {state.Position} (epoch {state.Epoch}) is outside {_data.Name} (0..{_data.Count - 1}): the checkpoint is damaged");
        Position = state.Position;
        Epoch = state.Epoch;
    }

    /// <summary>
    /// A fixed evaluation set: batches from the start of the data, the same on every call and independent of this
    /// loader's position. At most <paramref name="maxBatches"/> (all when ≤ 0), never more than one pass over the data,
    /// and at least one batch even when the data is shorter than a batch (it then wraps).
    /// </summary>
    public IEnumerable<CausalBatch> EvalBatches(int sequences, int T, int maxBatches)
    {
        CheckShape(sequences, T);
        long onePass = Math.Max(1, (_data.Count - 1) / ((long)sequences * T));
        long count = maxBatches <= 0 ? onePass : Math.Min(maxBatches, onePass);
        return Iterate(new CausalBatchLoader(_data, Rank, WorldSize), sequences, T, count);

        static IEnumerable<CausalBatch> Iterate(CausalBatchLoader loader, int sequences, int T, long count)
        {
            int rows = loader.RowsOfRank(sequences).Rows;
            for (long batch = 0; batch < count; batch++)
            {
                var inputs = new int[rows * T];
                var targets = new int[rows * T];
                loader.NextBatch(inputs, targets, sequences, T);
                yield return new CausalBatch(inputs, targets, rows, T);
            }
        }
    }

    private void CheckShape(int sequences, int T)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(T, 1);
        if (sequences < WorldSize)
            throw new ArgumentOutOfRangeException(nameof(sequences), sequences,
                $"a global batch of {sequences} rows cannot give each of {WorldSize} ranks at least one row");
        if (_data.Count < T + 1)
            throw new DataException(
                $"dataset {_data.Name} holds {_data.Count:N0} tokens, fewer than one sequence of T + 1 = {T + 1}: " +
                "use a shorter sequence length or more data");
    }

    private void ReadWrapped(long start, Span<int> destination)
    {
        while (!destination.IsEmpty)
        {
            int take = (int)Math.Min(destination.Length, _data.Count - start);
            _data.CopyTo(start, destination[..take]);
            destination = destination[take..];
            start = 0;
        }
    }

    private void Advance(long tokens)
    {
        long next = Position + tokens;
        Epoch += next / _data.Count;
        Position = next % _data.Count;
    }
}
