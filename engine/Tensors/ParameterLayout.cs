namespace Engine.Tensors;

/// <summary>One named tensor inside the flat parameter buffer.</summary>
/// <param name="Name">HuggingFace's name for it, so checkpoints export and import without a table of renames.</param>
/// <param name="Shape">Our shape; linear weights are (out, in).</param>
/// <param name="StoredTransposedInHf">GPT-2's Conv1D keeps (in, out): the tensor is transposed on import/export.</param>
/// <param name="Decay">AdamW weight decay applies (tensors with ≥ 2 dimensions, as in HF's and nanoGPT's recipes).</param>
public sealed record ParameterInfo(string Name, int[] Shape, long Offset, bool StoredTransposedInHf, bool Decay)
{
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);
    /// <summary>
    /// The first dimension is the (possibly padded) vocabulary: word tables and output biases. HF files hold only the
    /// real rows; the padded rows stay 0 and are dropped on export.
    /// </summary>
    public bool VocabularyRows { get; init; }
}

/// <summary>
/// All parameters live in one flat buffer (so AdamW, clipping, all-reduce and sharding each see one contiguous range);
/// this is the map from names to ranges of it, built once from the config.
/// </summary>
public sealed class ParameterLayout
{
    readonly List<ParameterInfo> tensors = new();
    readonly Dictionary<string, ParameterInfo> byName = new();

    /// <summary>Quantization-aware training: every linear layer registers its learnt steps beside its weight. Null =
    /// none (the layers are plain).</summary>
    public QuantizationScheme? Quantization { get; init; }

    public IReadOnlyList<ParameterInfo> Tensors => tensors;
    public long Count { get; private set; }

    public ParameterInfo Add(string name, int[] shape, bool storedTransposedInHf = false, bool vocabularyRows = false)
    {
        if (byName.ContainsKey(name)) throw new InvalidOperationException($"parameter {name} registered twice");
        var info = new ParameterInfo(name, shape, Count, storedTransposedInHf, Decay: shape.Length >= 2) { VocabularyRows = vocabularyRows };
        tensors.Add(info);
        byName[name] = info;
        Count += info.Count;
        return info;
    }

    public ParameterInfo this[string name] => byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"no parameter named {name}");
    public bool Contains(string name) => byName.ContainsKey(name);
}
