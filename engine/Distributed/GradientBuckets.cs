using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// DDP's all-reduce buckets: contiguous ranges of the flat gradient buffer, whole tensors only, in the order the
/// backward pass finishes them (last layer first), each at least <c>targetBytes</c> except the last. A bucket can be
/// reduced as soon as the backward pass has passed its first tensor.
/// </summary>
public static class GradientBuckets
{
    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const long DefaultBytes = 25L << 20;

    public static IReadOnlyList<(long Start, long Count)> Plan(ParameterLayout layout, long targetBytes = DefaultBytes)
    {
        if (targetBytes <= 0) throw new ArgumentOutOfRangeException(nameof(targetBytes));
        var buckets = new List<(long Start, long Count)>();
        long end = layout.Count, start = end;
        for (int i = layout.Tensors.Count - 1; i >= 0; i--)
        {
            start = layout.Tensors[i].Offset;
            if ((end - start) * sizeof(float) >= targetBytes)
            {
                buckets.Add((start, end - start));
                end = start;
            }
        }
        if (end > 0) buckets.Add((0, end));
        return buckets;
    }
}
