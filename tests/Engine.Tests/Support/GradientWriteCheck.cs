using Engine.Precision;
using Engine.Tensors;

namespace Engine.Tests.Support;

/// <summary>
/// Checks an op that writes an input gradient (<see cref="GradientWrite"/>) on one backend: overwriting a buffer
/// full of NaN must give what accumulating into zeros gives, and read none of the NaNs. Equal means == (and neither
/// NaN): a −0 contribution stays −0 when overwritten where 0 + −0 gave +0; every other value is the same bits.
/// </summary>
public static class GradientWriteCheck
{
    /// <param name="op">Runs the op with the given input gradient buffer and write.</param>
    public static void AssertOverwriteIsZeroPlusAccumulate(IBackend backend, long length, StorageFormat storage, Action<Slice<float>, GradientWrite> op, string what)
    {
        var overwritten = HalfStorage.Allocate(backend, length, storage, "overwritten");
        var zeroFirst = HalfStorage.Allocate(backend, length, storage, "zero first");
        Fill(backend, overwritten, float.NaN);
        Fill(backend, zeroFirst, float.NaN);
        backend.Zero(zeroFirst);
        op(overwritten, GradientWrite.Overwrite);
        op(zeroFirst, GradientWrite.Accumulate);
        float[] actual = Read(backend, overwritten), expected = Read(backend, zeroFirst);
        for (int i = 0; i < length; i++)
            Assert.True(!float.IsNaN(actual[i]) && actual[i] == expected[i], $"{what}[{i}]: overwritten {actual[i]:R}, zero + accumulate {expected[i]:R}");
    }

    /// <summary>Every element set to <paramref name="value"/> in the slice's storage.</summary>
    public static void Fill(IBackend backend, Slice<float> s, float value)
    {
        if (s.IsNative) backend.CopyIn<float>(Enumerable.Repeat(value, (int)s.Length).ToArray(), s);
        else backend.CopyIn<ushort>(Enumerable.Repeat(Half(s, value), (int)s.Length).ToArray(), HalfStorage.Bits(s));
    }

    /// <summary>The slice's values as floats (16-bit storage widened exactly).</summary>
    public static float[] Read(IBackend backend, Slice<float> s)
    {
        var values = new float[s.Length];
        if (s.IsNative)
        {
            backend.CopyOut(s, values);
            return values;
        }
        var bits = new ushort[s.Length];
        backend.CopyOut(HalfStorage.Bits(s), bits);
        bool bf16 = HalfStorage.FormatOf(s) == HalfFormat.Bf16;
        for (int i = 0; i < bits.Length; i++) values[i] = bf16 ? Bf16.ToFloat(bits[i]) : (float)BitConverter.UInt16BitsToHalf(bits[i]);
        return values;
    }

    /// <summary>Random values in the slice's storage (rounded to it when 16-bit).</summary>
    public static Slice<float> Random(IBackend backend, long length, StorageFormat storage, Random rng, double scale = 1)
    {
        var s = HalfStorage.Allocate(backend, length, storage, "random");
        var values = Enumerable.Range(0, (int)length).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        if (s.IsNative) backend.CopyIn<float>(values, s);
        else backend.CopyIn<ushort>(values.Select(v => Half(s, v)).ToArray(), HalfStorage.Bits(s));
        return s;
    }

    static ushort Half(Slice<float> s, float value) =>
        HalfStorage.FormatOf(s) == HalfFormat.Bf16 ? Bf16.FromFloat(value) : BitConverter.HalfToUInt16Bits((Half)value);
}
