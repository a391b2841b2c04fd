using Engine.Tensors;

namespace Engine.Distributed;

/// <summary>
/// Unit-sized buffers FSDP holds on the compute device (gathered parameters, or open gradients), least recently
/// used first: the first to leave when more than <see cref="FsdpOptions.UnitsInFlight"/> would be held.
/// </summary>
sealed class HeldUnits
{
    readonly List<(int Unit, Slice<float> Buffer)> held = new();

    public int Count => held.Count;

    /// <summary>Unit u's buffer, or empty when it is not held.</summary>
    public Slice<float> Find(int u)
    {
        foreach (var (unit, buffer) in held) if (unit == u) return buffer;
        return default;
    }

    /// <summary>Adds unit u as the most recently used.</summary>
    public void Add(int u, Slice<float> buffer) => held.Add((u, buffer));

    /// <summary>Moves unit u to the most-recently-used end.</summary>
    public void Touch(int u)
    {
        if (held[^1].Unit == u) return;
        int i = held.FindIndex(h => h.Unit == u);
        var entry = held[i];
        held.RemoveAt(i);
        held.Add(entry);
    }

    /// <summary>Removes and returns the least recently used unit.</summary>
    public (int Unit, Slice<float> Buffer) TakeOldest()
    {
        var entry = held[0];
        held.RemoveAt(0);
        return entry;
    }

    /// <summary>Forgets every unit and returns their buffers (for the owner to free).</summary>
    public List<Slice<float>> Clear()
    {
        var buffers = held.Select(h => h.Buffer).ToList();
        held.Clear();
        return buffers;
    }
}
