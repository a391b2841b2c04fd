using Engine.Tensors;

namespace Engine.Tests.Support;

/// <summary>
/// Arrays in and out of a backend, for the tests of the mixed-precision ops' CPU twins (casts, unscaling, AdamW with a
/// 16-bit copy); the tests import it with <c>using static</c>.
/// </summary>
static class BackendArrays
{
    /// <summary>Spans several of ParallelRows' chunks (16384) and ends mid-chunk, so a chunk boundary mistake shows.</summary>
    public const int N = 3 * 16384 + 77;

    public static float[] RandomArray(int n, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    public static Slice<T> Upload<T>(IBackend backend, T[] data) where T : unmanaged
    {
        var s = backend.Allocate<T>(data.Length, "test");
        backend.CopyIn<T>(data, s);
        return s;
    }

    public static T[] Download<T>(IBackend backend, Slice<T> s) where T : unmanaged
    {
        var data = new T[s.Length];
        backend.CopyOut(s, data);
        return data;
    }

    public static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToUInt32Bits(expected[i]) != BitConverter.SingleToUInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R}");
    }
}
