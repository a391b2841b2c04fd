namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>
/// Naive float64 reference for the linear layer, plus per-element "magnitudes" Σ|terms| that scale the
/// float32 rounding error bound (a sum's rounding error is bounded relative to Σ|terms|, not to |Σ terms|,
/// which can be arbitrarily small through cancellation).
/// </summary>
internal static class ReferenceMatmul
{
    /// <summary>out[n,o] = bias[o] + Σ_c inp[n,c]·w[o,c].</summary>
    public static (double[] Value, double[] Magnitude) Forward(float[] inp, float[] w, float[]? bias, int N, int C, int OC)
    {
        var value = new double[N * OC];
        var mag = new double[N * OC];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                double s = bias?[o] ?? 0, m = Math.Abs(bias?[o] ?? 0);
                for (int c = 0; c < C; c++)
                {
                    double t = (double)inp[n * C + c] * w[o * C + c];
                    s += t;
                    m += Math.Abs(t);
                }
                value[n * OC + o] = s;
                mag[n * OC + o] = m;
            }
        return (value, mag);
    }

    /// <summary>dinp[n,c] = Σ_o dout[n,o]·w[o,c].</summary>
    public static (double[] Value, double[] Magnitude) DInput(float[] dout, float[] w, int N, int C, int OC)
    {
        var value = new double[N * C];
        var mag = new double[N * C];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                double d = dout[n * OC + o];
                for (int c = 0; c < C; c++)
                {
                    double t = d * w[o * C + c];
                    value[n * C + c] += t;
                    mag[n * C + c] += Math.Abs(t);
                }
            }
        return (value, mag);
    }

    /// <summary>dw[o,c] = Σ_n dout[n,o]·inp[n,c].</summary>
    public static (double[] Value, double[] Magnitude) DWeight(float[] dout, float[] inp, int N, int C, int OC)
    {
        var value = new double[OC * C];
        var mag = new double[OC * C];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                double d = dout[n * OC + o];
                for (int c = 0; c < C; c++)
                {
                    double t = d * inp[n * C + c];
                    value[o * C + c] += t;
                    mag[o * C + c] += Math.Abs(t);
                }
            }
        return (value, mag);
    }

    /// <summary>db[o] = Σ_n dout[n,o].</summary>
    public static (double[] Value, double[] Magnitude) DBias(float[] dout, int N, int OC)
    {
        var value = new double[OC];
        var mag = new double[OC];
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++)
            {
                value[o] += dout[n * OC + o];
                mag[o] += Math.Abs(dout[n * OC + o]);
            }
        return (value, mag);
    }
}
