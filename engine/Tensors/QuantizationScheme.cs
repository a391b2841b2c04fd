using System.Text.Json.Serialization;

namespace Engine.Tensors;

/// <summary>
/// How a model's linear layers are quantized: symmetric integers of <see cref="WeightBits"/> for the weights (one step
/// per output channel) and, when <see cref="ActivationBits"/> is not 0, of that many bits for each layer's input (one
/// step per tensor). Written w8a8, w4a8 or w8 (weights only). Quantization-aware training learns the steps (LSQ) as
/// parameters of their own, named after the layer: <c>PREFIX.weight_step</c> and <c>PREFIX.input_step</c>.
/// Embeddings, norms and the output head stay as they are.
/// </summary>
[System.Text.Json.Serialization.JsonUnmappedMemberHandling(System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow)]
public sealed record QuantizationScheme(int WeightBits, int ActivationBits)
{
    public const string WeightStepSuffix = ".weight_step";
    public const string InputStepSuffix = ".input_step";

    /// <summary>The schemes the engine trains and ships, by name.</summary>
    public static readonly IReadOnlyList<string> Names = ["w8a8", "w4a8", "w8", "w4"];

    /// <summary>Qp = 2^(bits−1) − 1, the largest level of a symmetric <paramref name="bits"/>-bit quantizer (2..8).</summary>
    public static int MaxLevel(int bits) =>
        bits is >= 2 and <= 8 ? (1 << (bits - 1)) - 1
            : throw new ArgumentOutOfRangeException(nameof(bits), bits, "the bit width must be in 2..8");

    [JsonIgnore] public bool QuantizesInputs => ActivationBits > 0;

    [JsonIgnore] public string Name => QuantizesInputs ? $"w{WeightBits}a{ActivationBits}" : $"w{WeightBits}";

    /// <summary>Reads w8a8, w4a8, w8 or w4; null for anything else.</summary>
    public static QuantizationScheme? Parse(string text) => text switch
    {
        "w8a8" => new(8, 8),
        "w4a8" => new(4, 8),
        "w8" => new(8, 0),
        "w4" => new(4, 0),
        _ => null,
    };

    /// <summary>A parameter that holds learnt quantization steps (not a weight of the network itself).</summary>
    public static bool IsStep(string parameterName) =>
        parameterName.EndsWith(WeightStepSuffix, StringComparison.Ordinal) || parameterName.EndsWith(InputStepSuffix, StringComparison.Ordinal);

    /// <summary>Refuses bit widths the quantization ops do not run (2..8 for weights; 0 or 2..8 for inputs).</summary>
    public void Validate()
    {
        if (WeightBits is < 2 or > 8) throw new EngineException($"weight quantization of {WeightBits} bits: choose 2..8 (w8, w4)");
        if (ActivationBits != 0 && ActivationBits is < 2 or > 8) throw new EngineException($"input quantization of {ActivationBits} bits: choose 2..8 (a8), or none");
    }

    public override string ToString() => Name;
}
