using Engine.Tensors;

namespace Engine.Layers;

/// <summary>
/// One linear layer's int8 weight on the backend: integer levels (int8; int4 unpacked to int8) with one fp32 scale per
/// output channel, and the input's treatment: quantized to int8 with a static scale (learnt by quantization-aware
/// training), with a dynamic one (max |x| / 127 of each input), or kept fp32 (weight-only). Its <see cref="Forward"/>
/// is the one int8 linear layer both a `trainer quantize` model (<see cref="QuantizedLinears"/>) and
/// quantization-aware training's forward (<see cref="LinearQuantization"/>) run, so the two compute the same bits.
/// </summary>
public sealed class QuantizedLinear
{
    public required Slice<sbyte> Levels { get; init; }
    /// <summary>One per output channel. A learnt step may be negative: levels and products change sign with it and
    /// every step of the forward is odd in the sign, so the output is the same as for |step|.</summary>
    public required Slice<float> Scales { get; init; }
    /// <summary>The input's static scale; empty = dynamic (when <see cref="QuantizesInputs"/>).</summary>
    public Slice<float> InputScale { get; init; }
    public bool QuantizesInputs { get; init; }
    public int InputBits { get; init; } = 8;

    /// <summary>
    /// output = x·Wᵀ + b with W's levels: the input's levels (<see cref="IBackend.QuantizeWithScales"/> for a static
    /// scale, <see cref="IBackend.QuantizeInt8PerTensor"/> for a dynamic one), their exact int32 product
    /// (<see cref="IBackend.Int8Matmul"/>) rescaled (<see cref="IBackend.Int8MatmulDequantize"/>); or, weight-only,
    /// fp32 inputs multiplied by the levels with the scales applied in the kernel (<see cref="IBackend.MatmulInt8Weights"/>).
    /// The scratch needs N·In int8 levels and N·Out int32 products (and, for a dynamic scale, one float) when inputs are
    /// quantized; the input may be longer than N rows (only the first N are read).
    /// </summary>
    public void Forward(IBackend backend, Slice<float> output, Slice<float> input, Slice<float> bias, Int8Scratch scratch, int N, int In, int Out)
    {
        var x = input.Sub(0, (long)N * In);
        if (!QuantizesInputs)
        {
            backend.MatmulInt8Weights(output, x, Levels, Scales, bias, N, In, Out);
            return;
        }
        var levels = scratch.InputLevels.Sub(0, (long)N * In);
        var scale = InputScale;
        if (scale.IsEmpty)
        {
            backend.QuantizeInt8PerTensor(levels, scratch.DynamicScale, x);
            scale = scratch.DynamicScale;
        }
        else backend.QuantizeWithScales(levels, x, scale, InputBits, 1, checked(N * In));
        var product = scratch.Products.Sub(0, (long)N * Out);
        backend.Int8Matmul(product, levels, Levels, N, In, Out);
        backend.Int8MatmulDequantize(output, product, scale, Scales, bias, N, Out);
    }
}

/// <summary>Where <see cref="QuantizedLinear.Forward"/> puts the input's levels and the int32 products (each at least
/// as long as the pass needs; empty for weight-only layers), and a dynamic input scale (one float; empty for static).</summary>
public readonly record struct Int8Scratch(Slice<sbyte> InputLevels, Slice<int> Products, Slice<float> DynamicScale);

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

    /// <summary>output = x·Wᵀ + b with W's int8 levels (<see cref="QuantizedLinear.Forward"/>), in this object's scratch.</summary>
    public void Forward(QuantizedLinear q, Slice<float> output, Slice<float> input, Slice<float> bias, int N, int In, int Out)
    {
        if (q.QuantizesInputs) EnsureScratch((long)N * In, (long)N * Out);
        q.Forward(backend, output, input, bias, new Int8Scratch(inputLevels, products, dynamicScale), N, In, Out);
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
