using Engine.Tensors;
using Engine.Backends.Cpu.Kernels;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>Random inputs of one linear-layer shape, and helpers that run CpuMatmul on copies of them.</summary>
internal sealed unsafe class LinearCase : IDisposable
{
    public int N { get; }
    public int C { get; }
    public int OC { get; }
    public NativeBuffer Input { get; }
    public NativeBuffer Weight { get; }
    public NativeBuffer Bias { get; }
    public NativeBuffer DOut { get; }

    public LinearCase(int n, int c, int oc, int seed, int offset = 1)
    {
        N = n; C = c; OC = oc;
        var rng = new Random(seed);
        Input = NativeBuffer.Random(n * c, rng, offset);
        Weight = NativeBuffer.Random(oc * c, rng, offset + 2);
        Bias = NativeBuffer.Random(oc, rng, offset + 1);
        DOut = NativeBuffer.Random(n * oc, rng, offset + 3);
    }

    public override string ToString() => $"N={N} C={C} OC={OC}";

    /// <summary>Forward into an output pre-filled with <paramref name="prefill"/>.</summary>
    public float[] Forward(bool withBias, float prefill = float.NaN)
    {
        using var output = NativeBuffer.Filled(N * OC, prefill, offset: 3);
        CpuMatmul.Forward(output.Ptr, Input.Ptr, Weight.Ptr, withBias ? Bias.Ptr : null, N, C, OC);
        return output.ToArray();
    }

    /// <summary>Backward into gradients pre-filled with the given values (null array = pass a null pointer).</summary>
    public (float[]? DInput, float[] DWeight, float[]? DBias) Backward(float[]? dinputInit, float[] dweightInit, float[]? dbiasInit)
    {
        using var dinput = dinputInit is null ? null : FromArray(dinputInit);
        using var dweight = FromArray(dweightInit);
        using var dbias = dbiasInit is null ? null : FromArray(dbiasInit);
        CpuMatmul.Backward(dinput is null ? null : dinput.Ptr, dweight.Ptr, dbias is null ? null : dbias.Ptr,
            DOut.Ptr, Input.Ptr, Weight.Ptr, N, C, OC, GradientWrite.Accumulate);
        return (dinput?.ToArray(), dweight.ToArray(), dbias?.ToArray());
    }

    public (float[] DInput, float[] DWeight, float[] DBias) BackwardFromZero()
    {
        var (di, dw, db) = Backward(new float[N * C], new float[OC * C], new float[OC]);
        return (di!, dw, db!);
    }

    private static NativeBuffer FromArray(float[] values)
    {
        var b = new NativeBuffer(values.Length, offset: 5);
        values.CopyTo(b.Span);
        return b;
    }

    public void Dispose()
    {
        Input.Dispose(); Weight.Dispose(); Bias.Dispose(); DOut.Dispose();
    }
}
