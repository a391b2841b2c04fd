using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// One linear layer's post-training quantized weight on the backend: integer levels (int8; int4 unpacked to int8)
/// with one fp32 scale per output channel, and the input's treatment: quantized to int8 with a static scale (learnt
/// by quantization-aware training), with a dynamic one (max |x| / 127 of each input), or kept fp32 (weight-only).
/// </summary>
public sealed class QuantizedLinear
{
    public required Slice<sbyte> Levels { get; init; }
    public required Slice<float> Scales { get; init; }
    /// <summary>The input's static scale; empty = dynamic (when <see cref="QuantizesInputs"/>).</summary>
    public Slice<float> InputScale { get; init; }
    public bool QuantizesInputs { get; init; }
    public int InputBits { get; init; } = 8;
}

/// <summary>
/// The quantized linear layers of a model loaded from a `trainer quantize` folder, keyed by HF weight name; layers
/// find theirs through <see cref="ModelMemory.QuantizedLinears"/> and multiply int8 × int8 → int32 (or int8 weights
/// by fp32 inputs) instead of reading the fp32 weight. A layer that fuses several HF weights (BERT's q|k|v) gets
/// their rows joined, in order, on first use. Owns its backend buffers.
/// </summary>
public sealed class QuantizedLinears : IDisposable
{
    /// <summary>One HF weight as read from the file (host arrays, our (out, in) layout).</summary>
    public sealed record HostWeight(sbyte[] Levels, float[] Scales, float? InputScale);

    readonly IBackend backend;
    readonly IReadOnlyDictionary<string, HostWeight> weights;
    readonly Dictionary<string, QuantizedLinear?> uploaded = new();
    readonly List<Action> frees = new();
    Slice<sbyte> inputLevels;
    Slice<int> products;
    Slice<float> dynamicScale;

    /// <summary>The scheme the folder was quantized with (w8a8, w4a8, w8, w4).</summary>
    public QuantizationScheme Scheme { get; }

    public QuantizedLinears(IBackend backend, QuantizationScheme scheme, IReadOnlyDictionary<string, HostWeight> weights)
    {
        this.backend = backend; Scheme = scheme; this.weights = weights;
        dynamicScale = Allocate<float>(1, "quantized input scale");
    }

    Slice<T> Allocate<T>(long n, string what) where T : unmanaged
    {
        var s = backend.Allocate<T>(n, what);
        frees.Add(() => backend.Free(s));
        return s;
    }

    /// <summary>The quantized weight of a layer (its weight's name, fused names joined by '+'), or null when the
    /// folder kept it in fp32.</summary>
    public QuantizedLinear? Find(ParameterInfo weight)
    {
        if (uploaded.TryGetValue(weight.Name, out var found)) return found;
        var names = weight.Name.Split('+');
        QuantizedLinear? result = null;
        if (names.All(weights.ContainsKey))
        {
            var parts = names.Select(n => weights[n]).ToList();
            var levels = Allocate<sbyte>(parts.Sum(p => (long)p.Levels.Length), $"int8 {weight.Name}");
            var scales = Allocate<float>(parts.Sum(p => (long)p.Scales.Length), $"scales of {weight.Name}");
            backend.CopyIn<sbyte>(parts.SelectMany(p => p.Levels).ToArray(), levels);
            backend.CopyIn<float>(parts.SelectMany(p => p.Scales).ToArray(), scales);
            var inputScale = default(Slice<float>);
            if (parts[0].InputScale is float s)
            {
                inputScale = Allocate<float>(1, $"input scale of {weight.Name}");
                backend.CopyIn<float>(new[] { s }, inputScale);
            }
            result = new QuantizedLinear
            {
                Levels = levels, Scales = scales, InputScale = inputScale,
                QuantizesInputs = Scheme.QuantizesInputs, InputBits = Math.Max(2, Scheme.ActivationBits),
            };
        }
        uploaded[weight.Name] = result;
        return result;
    }

    /// <summary>output = x·Wᵀ + b with W's int8 levels: int8 inputs and an int32 product rescaled, or fp32 inputs
    /// multiplied by the levels with the scales applied in the kernel (weight-only).</summary>
    public void Forward(QuantizedLinear q, Slice<float> output, Slice<float> input, Slice<float> bias, int N, int In, int Out)
    {
        var x = input.Sub(0, (long)N * In);
        if (!q.QuantizesInputs)
        {
            backend.MatmulInt8Weights(output, x, q.Levels, q.Scales, bias, N, In, Out);
            return;
        }
        EnsureScratch((long)N * In, (long)N * Out);
        var levels = inputLevels.Sub(0, (long)N * In);
        var scale = q.InputScale;
        if (scale.IsEmpty)
        {
            backend.QuantizeInt8PerTensor(levels, dynamicScale, x);
            scale = dynamicScale;
        }
        else backend.QuantizeWithScales(levels, x, scale, q.InputBits, 1, checked(N * In));
        var product = products.Sub(0, (long)N * Out);
        backend.Int8Matmul(product, levels, q.Levels, N, In, Out);
        backend.Int8MatmulDequantize(output, product, scale, q.Scales, bias, N, Out);
    }

    /// <summary>The int8 input and int32 product buffers, shared by every layer and grown to the largest pass.</summary>
    void EnsureScratch(long inputs, long outputs)
    {
        if (inputLevels.Length < inputs) { if (!inputLevels.IsEmpty) backend.Free(inputLevels); inputLevels = backend.Allocate<sbyte>(inputs, "int8 inputs"); }
        if (products.Length < outputs) { if (!products.IsEmpty) backend.Free(products); products = backend.Allocate<int>(outputs, "int32 products"); }
    }

    public void Dispose()
    {
        foreach (var free in frees) free();
        frees.Clear();
        if (!inputLevels.IsEmpty) backend.Free(inputLevels);
        if (!products.IsEmpty) backend.Free(products);
        inputLevels = default; products = default;
    }
}
