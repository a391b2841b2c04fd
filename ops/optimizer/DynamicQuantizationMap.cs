namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// The dynamic (tree) quantization maps of 8-bit optimizers (Dettmers et al. 2021, "8-bit Optimizers via Block-wise
/// Quantization", section 2): 256 fp32 values in [−1, 1] that an 8-bit code indexes, dense near 0 and sparse near 1,
/// so a block's small moments keep their relative precision. The paper's code word reads: a sign bit (signed map only),
/// then a run of E zero bits giving the decimal exponent 10^−E, then an indicator 1 bit, then F linear fraction bits:
/// the F bits pick one of 2^F equal sub-intervals of [0.1, 1] and the value is that sub-interval's midpoint,
///   |value| = 10^−E · (0.1 + 0.9 · (j + ½) / 2^F),   j ∈ [0, 2^F),   E ∈ [0, 6],   F = (bits after the sign) − 1 − E.
/// Signed (for the first moment): 7 bits after the sign, so E = 0 gives 64 values in [0.1, 1], E = 6 one value
/// (5.5e−7); 127 magnitudes × 2 signs. Unsigned (for the second moment, never negative): 8 bits, twice as many values
/// per exponent (128 for E = 0 … 2 for E = 6): 254. The codes a run of zeros leaves over (E = 7) are 0 and 1: exact zero,
/// and the block's absmax itself, which the largest element of every block quantizes to (for a positive one; the
/// signed map's most negative value is −(1 − 0.9/128)). bitsandbytes' create_dynamic_map defines the same values (from
/// float32 linspace; ours are computed as below, so they may differ in the last bit).
/// A stored code is the value's index in the ascending map, not the bit pattern above: nearest-entry search is then a
/// binary search, and the kernels never decode bits.
/// </summary>
public static class DynamicQuantizationMap
{
    public const int Size = 256;

    /// <summary>The signed map (first moment), ascending: 127 negative values, 0, 126 positive below 1, and 1.</summary>
    public static float[] Signed() => Build(signed: true);

    /// <summary>The unsigned map (second moment), ascending: 0, 254 values in (0, 1), and 1.</summary>
    public static float[] Unsigned() => Build(signed: false);

    static readonly double[] PowersOfTen = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];

    static float[] Build(bool signed)
    {
        int bitsAfterSign = signed ? 7 : 8;
        var values = new List<float> { 0f, 1f };
        for (int e = 0; e <= 6; e++)
        {
            int fractionBits = bitsAfterSign - 1 - e;
            long n = 1L << fractionBits;
            for (long j = 0; j < n; j++)
            {
                // 0.1 + 0.9·(j + ½)/n = (2n + 18j + 9) / (20n): integers, exact in double, one rounding for the
                // quotient and one to float, so the map is the same on every machine.
                double magnitude = (2.0 * n + 18.0 * j + 9.0) / (20.0 * n * PowersOfTen[e]);
                values.Add((float)magnitude);
                if (signed) values.Add((float)-magnitude);
            }
        }
        values.Sort();
        if (values.Count != Size || values.Distinct().Count() != Size)
            throw new InvalidOperationException($"a dynamic map needs {Size} distinct values, built {values.Distinct().Count()} of {values.Count}");
        return values.ToArray();
    }
}
