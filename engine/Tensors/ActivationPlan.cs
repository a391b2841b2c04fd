namespace Engine.Tensors;

/// <summary>A named region of the activation arena.</summary>
public sealed record ActivationInfo(string Name, long Offset, long Count);

/// <summary>
/// Every activation and temporary a step needs, laid out in one arena before step 1, so memory is known before it
/// is used and `trainer plan` can predict it from the same code. Shared regions (gradient scratch reused by every
/// layer) are registered by name and sized to their largest request.
/// </summary>
public sealed class ActivationPlan
{
    readonly List<(string Name, long Count)> regions = new();
    readonly Dictionary<string, int> shared = new();
    List<ActivationInfo>? laidOut;

    /// <summary>Registers a region; returns its index.</summary>
    public int Add(string name, long count)
    {
        if (laidOut != null) throw new InvalidOperationException("the activation plan is already laid out");
        regions.Add((name, count));
        return regions.Count - 1;
    }

    /// <summary>Registers (or grows) a region that several layers reuse one after another.</summary>
    public int AddShared(string name, long count)
    {
        if (shared.TryGetValue(name, out int index))
        {
            if (count > regions[index].Count) regions[index] = (name, count);
            return index;
        }
        index = Add(name, count);
        shared[name] = index;
        return index;
    }

    /// <summary>Offsets are rounded to 16 floats (64 bytes) so every region starts cache-line aligned.</summary>
    public IReadOnlyList<ActivationInfo> Layout()
    {
        if (laidOut != null) return laidOut;
        laidOut = new List<ActivationInfo>(regions.Count);
        long offset = 0;
        foreach (var (name, count) in regions)
        {
            laidOut.Add(new ActivationInfo(name, offset, count));
            offset += (count + 15) / 16 * 16;
        }
        TotalCount = offset;
        return laidOut;
    }

    public long TotalCount { get; private set; }
}
