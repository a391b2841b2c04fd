namespace Engine.Tests.Support;

public static class Relative
{
    /// <summary>‖a − b‖ / ‖b‖, the per-tensor agreement measure the HF fixture uses.</summary>
    public static double Error(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths differ: {actual.Length} vs {expected.Length}");
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++) { double d = actual[i] - expected[i]; diff += d * d; norm += expected[i] * expected[i]; }
        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    public static double Error(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        var a = new double[actual.Length];
        for (int i = 0; i < a.Length; i++) a[i] = actual[i];
        return Error(a, expected);
    }
}
