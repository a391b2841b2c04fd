namespace Engine.Corpus;

/// <summary>
/// SplitMix64 random stream. We do not use <see cref="System.Random"/> because its seeded
/// algorithm is an implementation detail of the runtime; the corpus must be byte-identical for a
/// given seed on every machine and every future .NET, or training runs stop being reproducible.
/// </summary>
internal sealed class CorpusRng
{
    private ulong _state;

    /// <param name="seed">The user's corpus seed.</param>
    /// <param name="stream">Separates independent streams (train, validation) drawn from one seed,
    /// so changing the number of train lines does not reshuffle the validation set.</param>
    public CorpusRng(int seed, int stream)
    {
        _state = Mix((ulong)(uint)seed) ^ Mix(0xC0FFEEUL + (ulong)(uint)stream);
    }

    public ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform int in [0, n). Multiply-shift; the bias for our small n is far below 2^-32.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        return (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);
    }

    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
