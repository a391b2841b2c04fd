namespace Engine.Backends.Cpu.Ops;

/// <summary>The CPU twin of ops/precision/precision.cu's unscale_check_f32.</summary>
public static unsafe class LossScale
{
    /// <summary>
    /// x *= 1/scale (multiplying by the float reciprocal, as torch's GradScaler does and as the kernel does, so both
    /// give the same bits; for the usual power-of-two scales it equals dividing). Returns false when any result is inf
    /// or NaN. The check is on the results, so a finite value pushed past float's range by a scale below 1 counts too.
    /// </summary>
    public static bool UnscaleAndCheckFinite(float* x, long count, float scale)
    {
        float inverse = 1f / scale;
        int nonFinite = 0;
        ParallelRows.ForChunks(count, (start, end) =>
        {
            bool finite = true;
            for (long i = start; i < end; i++)
            {
                float value = x[i] * inverse;
                x[i] = value;
                finite &= float.IsFinite(value);
            }
            if (!finite) Volatile.Write(ref nonFinite, 1);
        });
        return nonFinite == 0;
    }
}
