namespace Engine.Planning;

/// <summary>Training precision: fp32 throughout, or mixed precision (half-precision compute with fp32 master weights).</summary>
public enum Precision { Fp32, Bf16, Fp16 }

/// <summary>Bytes per element each precision keeps for each kind of state.</summary>
public static class PrecisionBytes
{
    public static Precision Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" => Precision.Fp32,
        "bf16" => Precision.Bf16,
        "fp16" => Precision.Fp16,
        _ => throw new EngineException($"--precision {text}: choose fp32, bf16 or fp16"),
    };

    public static string Name(Precision p) => p.ToString().ToLowerInvariant();

    /// <summary>The weights the forward pass reads: fp32, or a half-precision copy.</summary>
    public static int Weight(Precision p) => p == Precision.Fp32 ? 4 : 2;
    /// <summary>Gradients come out of backward in the compute precision.</summary>
    public static int Gradient(Precision p) => p == Precision.Fp32 ? 4 : 2;
    /// <summary>Adam's m and v stay fp32 in every precision (their small updates vanish in half precision).</summary>
    public static int Optimizer(Precision p) => 8;
    /// <summary>Mixed precision keeps an fp32 master copy for the update; fp32 training updates the weights themselves.</summary>
    public static int Master(Precision p) => p == Precision.Fp32 ? 0 : 4;
    /// <summary>Saved activations are stored in the compute precision.</summary>
    public static int Activation(Precision p) => p == Precision.Fp32 ? 4 : 2;
}
