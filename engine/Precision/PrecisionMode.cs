using System.Text.Json.Serialization;

namespace Engine.Precision;

/// <summary>Training precision: fp32 throughout, or mixed precision (half-precision compute with fp32 master weights).
/// Checkpoints record it by name ("fp32", "bf16", "fp16"), as when the setting was a string.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PrecisionMode>))]
public enum PrecisionMode
{
    [JsonStringEnumMemberName("fp32")] Fp32,
    [JsonStringEnumMemberName("bf16")] Bf16,
    [JsonStringEnumMemberName("fp16")] Fp16,
}

/// <summary>Bytes per element each precision keeps for each kind of state.</summary>
public static class PrecisionBytes
{
    public static string Name(PrecisionMode p) => p.ToString().ToLowerInvariant();

    /// <summary>The weights the forward pass reads: fp32, or a half-precision copy.</summary>
    public static int Weight(PrecisionMode p) => p == PrecisionMode.Fp32 ? 4 : 2;
    /// <summary>Gradients come out of backward in the compute precision.</summary>
    public static int Gradient(PrecisionMode p) => p == PrecisionMode.Fp32 ? 4 : 2;
    /// <summary>Adam's m and v stay fp32 in every precision (their small updates vanish in half precision).</summary>
    public static int Optimizer(PrecisionMode p) => 8;
    /// <summary>Mixed precision keeps an fp32 master copy for the update; fp32 training updates the weights themselves.</summary>
    public static int Master(PrecisionMode p) => p == PrecisionMode.Fp32 ? 0 : 4;
    /// <summary>
    /// Bytes per gradient element this engine holds and reduces: fp32 in every precision (as torch's autocast keeps
    /// them: the fp16 loss scale comes off before anything rounds them, and DDP/FSDP sum fp32). ZeRO's accounting
    /// (<see cref="Gradient"/>) counts them in the compute precision.
    /// </summary>
    public static int HeldGradient(PrecisionMode p) => 4;
    /// <summary>Saved activations are stored in the compute precision.</summary>
    public static int Activation(PrecisionMode p) => p == PrecisionMode.Fp32 ? 4 : 2;
}
