using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Engine.Backends.Cpu.Ops;
using Engine.Tensors;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// Float32 GELU (tanh form) for the CPU backend, same contract as the reference <see cref="GeluTanh{T}"/>
/// (backward accumulates into dInput, or overwrites it: <see cref="GradientWrite"/>). The tanh goes through e = exp(−2|u|) (<see cref="VectorMath.Exp(float)"/>):
/// then 1 + tanh(u) = 2/(1 + e) or 2e/(1 + e) and 1 − tanh²(u) = 4e/(1 + e)² come out without the cancellation
/// that float32 tanh suffers near ±1, where GELU's left tail and its derivative live. Max error against the float64
/// reference over x ∈ [−10, 10]: 4e-7 of max(1, |value|) for the value and the derivative (CpuGeluTests).
/// Vectorised (Vector512, Vector256, scalar: <see cref="Simd"/>), in fixed chunks over threads.
/// </summary>
public static unsafe class CpuGelu
{
    internal const float Sqrt2OverPi = 0.7978845608028654f;
    internal const float Cubic = 0.044715f;
    /// <summary>Elements per task: 128 KiB of input, enough to pay for handing it to a thread.</summary>
    internal const int Chunk = 32768;

    public static void Forward(float* output, float* input, long count)
    {
        var level = Simd.Active;
        ParallelRows.ForChunks(count, (start, end) => ForwardRange(output + start, input + start, end - start, level), Chunk);
    }

    public static void Backward(float* dInput, float* dOutput, float* input, long count, GradientWrite write)
    {
        var level = Simd.Active;
        bool overwrite = write == GradientWrite.Overwrite;
        ParallelRows.ForChunks(count, (start, end) => BackwardRange(dInput + start, dOutput + start, input + start, end - start, level, overwrite), Chunk);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardRange(float* y, float* x, long n, SimdLevel level)
    {
        long i = 0;
        if (level == SimdLevel.Vector512)
            for (; i + 16 <= n; i += 16) Vector512.Store(Value(Vector512.Load(x + i)), y + i);
        if (level >= SimdLevel.Vector256)
            for (; i + 8 <= n; i += 8) Vector256.Store(Value(Vector256.Load(x + i)), y + i);
        for (; i < n; i++) y[i] = Value(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void BackwardRange(float* dx, float* dy, float* x, long n, SimdLevel level, bool overwrite)
    {
        long i = 0;
        if (level == SimdLevel.Vector512)
            for (; i + 16 <= n; i += 16)
                GradientStore.Write(dx + i, Derivative(Vector512.Load(x + i), out _) * Vector512.Load(dy + i), overwrite);
        if (level >= SimdLevel.Vector256)
            for (; i + 8 <= n; i += 8)
                GradientStore.Write(dx + i, Derivative(Vector256.Load(x + i), out _) * Vector256.Load(dy + i), overwrite);
        for (; i < n; i++) GradientStore.Write(dx + i, Derivative(x[i], out _) * dy[i], overwrite);
    }

    // gelu(x) = ½x(1 + tanh u) = x·s/(1 + e), u = √(2/π)·x·(1 + 0.044715x²), e = exp(−2|u|), s = 1 for x ≥ 0 else e.
    // gelu'(x) = ½(1 + tanh u) + ½x·(1 − tanh²u)·u' = s/(1 + e) + 2x·e/(1 + e)²·u', u' = √(2/π)(1 + 3·0.044715x²).

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Value(Vector512<float> x)
    {
        var x2 = x * x;
        var u = Vector512.Create(Sqrt2OverPi) * x * (Vector512<float>.One + Vector512.Create(Cubic) * x2);
        var e = VectorMath.Exp(Vector512.Create(-2f) * Vector512.Abs(u));
        var s = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One, e);
        return x * s / (Vector512<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Value(Vector256<float> x)
    {
        var x2 = x * x;
        var u = Vector256.Create(Sqrt2OverPi) * x * (Vector256<float>.One + Vector256.Create(Cubic) * x2);
        var e = VectorMath.Exp(Vector256.Create(-2f) * Vector256.Abs(u));
        var s = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.One, e);
        return x * s / (Vector256<float>.One + e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Value(float x)
    {
        float x2 = x * x;
        float u = Sqrt2OverPi * x * (1 + Cubic * x2);
        float e = VectorMath.Exp(-2f * MathF.Abs(u));
        float s = x >= 0 ? 1 : e;
        return x * s / (1 + e);
    }

    /// <summary>gelu'(x), and gelu(x) in <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Derivative(Vector512<float> x, out Vector512<float> value)
    {
        var x2 = x * x;
        var u = Vector512.Create(Sqrt2OverPi) * x * (Vector512<float>.One + Vector512.Create(Cubic) * x2);
        var du = Vector512.Create(Sqrt2OverPi) * (Vector512<float>.One + Vector512.Create(3 * Cubic) * x2);
        var e = VectorMath.Exp(Vector512.Create(-2f) * Vector512.Abs(u));
        var s = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One, e);
        var inv = Vector512<float>.One / (Vector512<float>.One + e);
        var half = s * inv; // ½(1 + tanh u)
        value = x * half;
        return half + Vector512.Create(2f) * x * e * inv * inv * du;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Derivative(Vector256<float> x, out Vector256<float> value)
    {
        var x2 = x * x;
        var u = Vector256.Create(Sqrt2OverPi) * x * (Vector256<float>.One + Vector256.Create(Cubic) * x2);
        var du = Vector256.Create(Sqrt2OverPi) * (Vector256<float>.One + Vector256.Create(3 * Cubic) * x2);
        var e = VectorMath.Exp(Vector256.Create(-2f) * Vector256.Abs(u));
        var s = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.One, e);
        var inv = Vector256<float>.One / (Vector256<float>.One + e);
        var half = s * inv;
        value = x * half;
        return half + Vector256.Create(2f) * x * e * inv * inv * du;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Derivative(float x, out float value)
    {
        float x2 = x * x;
        float u = Sqrt2OverPi * x * (1 + Cubic * x2);
        float du = Sqrt2OverPi * (1 + 3 * Cubic * x2);
        float e = VectorMath.Exp(-2f * MathF.Abs(u));
        float s = x >= 0 ? 1 : e;
        float inv = 1 / (1 + e);
        float half = s * inv;
        value = x * half;
        return half + 2f * x * e * inv * inv * du;
    }
}
