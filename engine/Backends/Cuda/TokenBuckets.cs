namespace Engine.Backends.Cuda;

/// <summary>
/// Positions grouped by token id, for the deterministic embedding backward: distinct tokens in ascending order,
/// each with its positions in ascending order (a counting sort: O(positions + distinct tokens)).
/// </summary>
public static class TokenBuckets
{
    /// <returns>tokens[k]: bucket k's token; starts[k]..starts[k+1]: its range in positions.</returns>
    /// <param name="skipId">an id whose positions are left out (torch's padding_idx); −1 = none.</param>
    public static (int[] Tokens, int[] Starts, int[] Positions) Build(ReadOnlySpan<int> tokens, int skipId = -1)
    {
        var counts = new SortedDictionary<int, int>();
        foreach (int t in tokens) if (t != skipId) counts[t] = counts.TryGetValue(t, out int c) ? c + 1 : 1;
        var ids = new int[counts.Count];
        var starts = new int[counts.Count + 1];
        var next = new Dictionary<int, int>(counts.Count);
        int k = 0, offset = 0;
        foreach (var (token, count) in counts)
        {
            ids[k] = token;
            starts[k] = offset;
            next[token] = offset;
            offset += count;
            k++;
        }
        starts[k] = offset;
        var positions = new int[offset];
        for (int p = 0; p < tokens.Length; p++) if (tokens[p] != skipId) positions[next[tokens[p]]++] = p;
        return (ids, starts, positions);
    }
}
