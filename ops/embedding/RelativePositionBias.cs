using System.Numerics;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// T5's relative position bias: bias[h, t, u] = table[bucket(u − t), h] (table (buckets, heads), HF's
/// relative_attention_bias.weight). The bucket depends only on the distance d = u − t, so backward first sums dBias
/// along each diagonal (one sum per head and distance, queries in order) and then adds the diagonals of each bucket
/// in ascending distance: a fixed order the CUDA kernels repeat, without atomics.
/// </summary>
public static unsafe class RelativePositionBias<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward(T* bias, T* table, RelativePositionShape s)
    {
        s.Validate();
        int Tq = s.QueryLength, Tk = s.KeyLength, H = s.Heads;
        var buckets = BucketsByDistance(s);
        ParallelRows.For(H * Tq, ht =>
        {
            int h = ht / Tq, t = ht % Tq;
            T* row = bias + (long)ht * Tk;
            for (int u = 0; u < Tk; u++) row[u] = table[buckets[u - t + Tq - 1] * H + h];
        });
    }

    /// <summary>dTable[bucket, h] += Σ_{d with that bucket} Σ_t dBias[h, t, t + d].</summary>
    public static void Backward(T* dTable, T* dBias, RelativePositionShape s)
    {
        s.Validate();
        int Tq = s.QueryLength, Tk = s.KeyLength, H = s.Heads, D = s.Distances;
        var buckets = BucketsByDistance(s);
        var diagonal = new double[H * D];
        ParallelRows.For(H, h =>
        {
            for (int di = 0; di < D; di++)
            {
                int d = di - (Tq - 1);
                double sum = 0;
                for (int t = Math.Max(0, -d); t < Tq && t + d < Tk; t++)
                    sum += double.CreateTruncating(dBias[((long)h * Tq + t) * Tk + t + d]);
                diagonal[h * D + di] = sum;
            }
        });
        for (int h = 0; h < H; h++)
            for (int b = 0; b < s.Buckets; b++)
            {
                double sum = 0;
                bool any = false;
                for (int di = 0; di < D; di++)
                    if (buckets[di] == b) { sum += diagonal[h * D + di]; any = true; }
                if (any) dTable[b * H + h] += T.CreateTruncating(sum);
            }
    }

    /// <summary>bucket of each distance d = −(Tq − 1) … Tk − 1, indexed by d + Tq − 1.</summary>
    public static int[] BucketsByDistance(RelativePositionShape s)
    {
        var buckets = new int[s.Distances];
        for (int i = 0; i < buckets.Length; i++) buckets[i] = s.Bucket(i - (s.QueryLength - 1));
        return buckets;
    }
}
