namespace Engine.Tensors;

/// <summary>The int8 matrix products' argument checks, shared by the backends so both reject the same mistakes.</summary>
public static class Int8MatmulChecks
{
    /// <summary>output (N×M) = a (N×K) · b (M×K)ᵀ: every length must be the product of its dimensions.</summary>
    public static void Product(string op, long output, long a, long b, int N, int K, int M)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(N);
        ArgumentOutOfRangeException.ThrowIfNegative(K);
        ArgumentOutOfRangeException.ThrowIfNegative(M);
        SliceChecks.SameLength(op, "the output", output, "N·M", (long)N * M);
        SliceChecks.SameLength(op, "the input", a, "N·K", (long)N * K);
        SliceChecks.SameLength(op, "the weights", b, "M·K", (long)M * K);
    }

    /// <summary>The epilogue: N×M accumulators in, N×M floats out, one input scale.</summary>
    public static void Epilogue(string op, long output, long accumulators, long inputScale, int N, int M)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(N);
        ArgumentOutOfRangeException.ThrowIfNegative(M);
        SliceChecks.SameLength(op, "the output", output, "N·M", (long)N * M);
        SliceChecks.SameLength(op, "the accumulators", accumulators, "N·M", (long)N * M);
        SliceChecks.SameLength(op, "the input scale", inputScale, "one", 1);
    }

    /// <summary>One scale per output column (M), an optional bias (empty, or M values).</summary>
    public static void Columns(string op, long scales, long bias, int M)
    {
        SliceChecks.SameLength(op, "the weight scales", scales, "M", M);
        if (bias != 0) SliceChecks.SameLength(op, "the bias", bias, "M", M);
    }
}
