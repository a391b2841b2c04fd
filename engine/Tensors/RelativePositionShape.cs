namespace Engine.Tensors;

/// <summary>
/// T5's relative position bias: a learned (Buckets, Heads) table looked up by the bucket of each key–query distance
/// and added to the attention scores as a (Heads, QueryLength, KeyLength) bias shared by every batch row and layer.
/// </summary>
/// <param name="Bidirectional">Encoder: keys before and after the query get separate halves of the buckets. Decoder
/// (causal): only keys at or before the query are told apart; later keys all fall in bucket 0 (and are masked anyway).</param>
public readonly record struct RelativePositionShape(int Heads, int QueryLength, int KeyLength, int Buckets, int MaxDistance, bool Bidirectional)
{
    public long BiasCount => (long)Heads * QueryLength * KeyLength;
    public long TableCount => (long)Buckets * Heads;
    /// <summary>Distances key − query run from −(QueryLength − 1) to KeyLength − 1.</summary>
    public int Distances => QueryLength + KeyLength - 1;

    /// <summary>
    /// The bucket of distance key − query, as HF's T5Attention._relative_position_bucket computes it: half the buckets
    /// (of the direction's share) are exact small distances, the rest grow logarithmically up to MaxDistance. The
    /// logarithm runs in float32 like torch's, so the boundaries fall where HF puts them. The CUDA kernels
    /// (ops/embedding/relative_position.cu) repeat this formula line for line.
    /// </summary>
    public int Bucket(int relative)
    {
        int buckets = Buckets, bucket = 0;
        if (Bidirectional)
        {
            buckets /= 2;
            if (relative > 0) bucket += buckets;
            relative = Math.Abs(relative);
        }
        else relative = -Math.Min(relative, 0);
        int maxExact = buckets / 2;
        if (relative < maxExact) return bucket + relative;
        float scaled = MathF.Log(relative / (float)maxExact) / (float)Math.Log(MaxDistance / (double)maxExact) * (buckets - maxExact);
        return bucket + Math.Min(maxExact + (int)scaled, buckets - 1);
    }

    public void Validate()
    {
        if (Heads <= 0 || QueryLength <= 0 || KeyLength <= 0)
            throw new ArgumentException($"relative position shape {this}: every size must be positive");
        if (Buckets < 2 || MaxDistance < Buckets / 2)
            throw new ArgumentException($"relative position shape {this}: needs ≥ 2 buckets and a max distance of at least half of them");
    }
}
