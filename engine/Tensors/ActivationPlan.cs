namespace Engine.Tensors;

/// <summary>
/// What an arena region holds. Values (activations, their gradients, logits) are stored in the training precision:
/// 16 bits under mixed precision. Statistics (layernorm means and 1/σ, attention's log-sum-exp, per-row losses) stay
/// fp32 in every precision, as the kernels that read them need their full precision; so do gradient sums, buffers
/// that collect a gradient from many layers before it reaches a weight's gradient (T5's position-bias gradient,
/// shared by a stack): each layer's share would otherwise be rounded into the total. Integers are scratch that holds
/// no floats (quantization-aware training's int8 levels and int32 products): their count is in bytes, and layers read
/// them as the integer type they need (<see cref="Engine.Layers.ModelMemory.Integers{T}"/>).
/// </summary>
public enum ActivationKind { Value, Statistic, GradientSum, Integers }

/// <summary>A named region of the activation arena; <see cref="Offset"/> is in bytes from the arena's start, and
/// <see cref="Storage"/> is how its values are held (follows from the kind and the plan's precision).</summary>
public sealed record ActivationInfo(string Name, long Offset, long Count, ActivationKind Kind, StorageFormat Storage);

/// <summary>
/// Every activation and temporary a step needs, laid out in one arena before step 1, so memory is known before it
/// is used and `trainer plan` can predict it from the same code. Shared regions (gradient scratch reused by every
/// layer) are registered by name and sized to their largest request. The arena is planned in bytes: values take the
/// storage's bytes (<paramref name="values"/>), statistics 4, integer regions the bytes they ask for.
/// </summary>
public sealed class ActivationPlan(StorageFormat values = StorageFormat.Native)
{
    /// <summary>Every region starts on a 64-byte boundary (a cache line; what vectorised kernels like to load from).</summary>
    public const int Alignment = 64;

    readonly List<(string Name, long Count, ActivationKind Kind)> regions = new();
    readonly Dictionary<string, int> shared = new();
    List<ActivationInfo>? laidOut;

    /// <summary>Registers a region; returns its index.</summary>
    public int Add(string name, long count, ActivationKind kind = ActivationKind.Value)
    {
        if (laidOut != null) throw new InvalidOperationException("the activation plan is already laid out");
        regions.Add((name, count, kind));
        return regions.Count - 1;
    }

    /// <summary>Registers (or grows) a value region that several layers reuse one after another.</summary>
    public int AddShared(string name, long count) => AddShared(name, count, ActivationKind.Value);

    /// <summary>Registers (or grows) an integer region of <paramref name="bytes"/> bytes that several layers reuse one
    /// after another (<see cref="ActivationKind.Integers"/>).</summary>
    public int AddSharedIntegers(string name, long bytes) => AddShared(name, bytes, ActivationKind.Integers);

    int AddShared(string name, long count, ActivationKind kind)
    {
        if (shared.TryGetValue(name, out int index))
        {
            if (regions[index].Kind != kind) throw new InvalidOperationException($"shared region {name} is {regions[index].Kind}, not {kind}");
            if (count > regions[index].Count) regions[index] = (name, count, kind);
            return index;
        }
        index = Add(name, count, kind);
        shared[name] = index;
        return index;
    }

    /// <summary>The storage of a region of this kind: values in the plan's, statistics and gradient sums fp32.</summary>
    StorageFormat StorageOf(ActivationKind kind) => kind == ActivationKind.Value ? values : StorageFormat.Native;

    /// <summary>The bytes of a region: its count of values in their storage, or the count itself for integers.</summary>
    static long BytesOf(long count, ActivationKind kind, StorageFormat storage) =>
        kind == ActivationKind.Integers ? count : new Slice<float>(0, count, storage).Bytes;

    public IReadOnlyList<ActivationInfo> Layout()
    {
        if (laidOut != null) return laidOut;
        laidOut = new List<ActivationInfo>(regions.Count);
        long offset = 0;
        foreach (var (name, count, kind) in regions)
        {
            var storage = StorageOf(kind);
            laidOut.Add(new ActivationInfo(name, offset, count, kind, storage));
            long bytes = BytesOf(count, kind, storage);
            offset += (bytes + Alignment - 1) / Alignment * Alignment;
        }
        TotalBytes = offset;
        return laidOut;
    }

    /// <summary>Bytes of the whole arena (after <see cref="Layout"/>).</summary>
    public long TotalBytes { get; private set; }
}
