namespace Engine.Tensors;

/// <summary>The quantization ops' argument checks, shared by the backends so both reject the same mistakes.</summary>
public static class QuantizationChecks
{
    /// <summary>A (rows, cols) matrix's integers and floats hold rows·cols elements, its scales one per row.</summary>
    public static void Matrix(string op, long integers, long floats, long scales, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        long n = (long)rows * cols;
        SliceChecks.SameLength(op, "the integers", integers, "rows·cols", n);
        SliceChecks.SameLength(op, "the floats", floats, "rows·cols", n);
        SliceChecks.SameLength(op, "the scales", scales, "rows", rows);
    }

    /// <summary>A whole tensor quantized with one scale: as many integers as floats, one scale.</summary>
    public static void Tensor(string op, long integers, long floats, long scales)
    {
        SliceChecks.SameLength(op, "the integers", integers, "the floats", floats);
        SliceChecks.SameLength(op, "the scale", scales, "one", 1);
    }

    /// <summary>LSQ's backward: values and their gradients rows·cols each (the input's gradient may be empty), steps
    /// and their gradients one per row.</summary>
    public static void Backward(string op, long dInput, long dSteps, long dOutput, long input, long steps, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        long n = (long)rows * cols;
        if (dInput != 0) SliceChecks.SameLength(op, "the input's gradient", dInput, "rows·cols", n);
        SliceChecks.SameLength(op, "the output's gradient", dOutput, "rows·cols", n);
        SliceChecks.SameLength(op, "the input", input, "rows·cols", n);
        SliceChecks.SameLength(op, "the steps", steps, "rows", rows);
        SliceChecks.SameLength(op, "the steps' gradient", dSteps, "rows", rows);
    }

    /// <summary>int4 packing: n values and (n + 1) / 2 bytes.</summary>
    public static void Int4(string op, long values, long bytes, long n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        SliceChecks.SameLength(op, "the values", values, "n", n);
        SliceChecks.SameLength(op, "the packed bytes", bytes, "(n + 1) / 2", (n + 1) / 2);
    }
}
