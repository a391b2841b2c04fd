using System.Runtime.InteropServices;

namespace Engine.Tests.Support;

/// <summary>
/// A float32 test tensor in native memory, deliberately placed <c>offset</c> floats past a 64-byte boundary:
/// the engine hands kernels sub-tensors at arbitrary float offsets, so tests default to misaligned pointers.
/// </summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    private readonly float* _base;
    public float* Ptr { get; }
    public int Length { get; }

    public NativeBuffer(int length, int offset = 1)
    {
        Length = length;
        _base = (float*)NativeMemory.AlignedAlloc((nuint)((length + offset + 16) * sizeof(float)), 64);
        Ptr = _base + offset;
    }

    public static NativeBuffer Random(int length, Random rng, int offset = 1)
    {
        var b = new NativeBuffer(length, offset);
        for (int i = 0; i < length; i++) b.Ptr[i] = (float)(rng.NextDouble() * 2 - 1);
        return b;
    }

    public static NativeBuffer Filled(int length, float value, int offset = 1)
    {
        var b = new NativeBuffer(length, offset);
        b.Span.Fill(value);
        return b;
    }

    public Span<float> Span => new(Ptr, Length);

    public float[] ToArray() => Span.ToArray();

    public void Dispose() => NativeMemory.AlignedFree(_base);
}
