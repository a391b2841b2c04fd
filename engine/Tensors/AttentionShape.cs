namespace Engine.Tensors;

/// <summary>
/// The geometry of one multi-head attention call, shared by every backend. Queries are B×Tq rows, keys and values
/// B×Tk rows; head h reads columns [h·HeadSize, (h+1)·HeadSize) of each row. Rows are addressed by stride so the same
/// op reads packed self-attention qkv (stride 3·inner), a cross-attention query (stride inner) and packed kv
/// (stride 2·inner) without copies. Output rows are B×Tq of width Heads·HeadSize.
/// </summary>
/// <param name="Scale">Multiplies q·k: 1/√HeadSize for GPT-2 and BERT, 1 for T5 (its init absorbs the factor).</param>
/// <param name="Causal">Query t sees keys 0..t only (decoder self-attention; Tq = Tk).</param>
public readonly record struct AttentionShape(int B, int QueryLength, int KeyLength, int Heads, int HeadSize,
    int QueryStride, int KeyValueStride, double Scale, bool Causal)
{
    public int Inner => Heads * HeadSize;
    public long ProbabilityCount => (long)B * Heads * QueryLength * KeyLength;
    public long BiasCount => (long)Heads * QueryLength * KeyLength;

    /// <summary>Self-attention over packed qkv rows (B, T, 3·inner) with q, k, v at column offsets 0, inner, 2·inner.</summary>
    public static AttentionShape Packed(int B, int T, int inner, int heads, bool causal, double? scale = null) =>
        new(B, T, T, heads, inner / heads, 3 * inner, 3 * inner, scale ?? 1.0 / Math.Sqrt(inner / heads), causal);

    /// <summary>Last key a query row may see (exclusive end): causal rows stop at themselves.</summary>
    public int KeyEnd(int t) => Causal ? t + 1 : KeyLength;

    /// <summary>The first query row that sees key u (causal: u itself).</summary>
    public int FirstQuery(int u) => Causal ? u : 0;

    // Element offsets of head pair bh = b·Heads + h, for kernels that run one head at a time.
    /// <summary>Where head pair bh's first query row starts.</summary>
    public long QueryOffset(int bh) => (long)(bh / Heads) * QueryLength * QueryStride + bh % Heads * HeadSize;
    /// <summary>Where head pair bh's first key (and value) row starts.</summary>
    public long KeyValueOffset(int bh) => (long)(bh / Heads) * KeyLength * KeyValueStride + bh % Heads * HeadSize;
    /// <summary>Where head pair bh's first row of a (B, Tq, inner) tensor (output, dOutput) starts.</summary>
    public long OutputOffset(int bh) => (long)(bh / Heads) * QueryLength * Inner + bh % Heads * HeadSize;
    /// <summary>Where row t of head pair bh's (Tq × Tk) block of a (B, heads, Tq, Tk) tensor (probabilities) starts.</summary>
    public long ScoreRowOffset(int bh, int t) => ((long)bh * QueryLength + t) * KeyLength;
    /// <summary>Where row t of head h's (Tq × Tk) block of the (heads, Tq, Tk) position bias starts.</summary>
    public long BiasRowOffset(int h, int t) => ((long)h * QueryLength + t) * KeyLength;

    public void Validate()
    {
        if (B <= 0 || QueryLength <= 0 || KeyLength <= 0 || Heads <= 0 || HeadSize <= 0)
            throw new ArgumentException($"attention shape {this}: every size must be positive");
        if (QueryStride < Inner || KeyValueStride < Inner)
            throw new ArgumentException($"attention shape {this}: row strides must hold all heads ({Inner})");
        if (Causal && QueryLength != KeyLength)
            throw new ArgumentException($"attention shape {this}: causal attention needs as many queries as keys");
    }
}
