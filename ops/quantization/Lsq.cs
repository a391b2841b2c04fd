namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// LSQ's backward on the CPU (the twin of ops/quantization/lsq.cu): the values' gradient through the straight-through
/// estimator inside the clip range, the step's from the rounding residuals (inside) or ±Qp (outside). The step's sum
/// runs in double per (row, chunk of <see cref="Chunk"/> columns), then over the chunks in order, as on the GPU.
/// </summary>
public static unsafe class Lsq
{
    public const int Chunk = 4096;

    public static int Chunks(int cols) => Math.Max(1, (cols + Chunk - 1) / Chunk);

    /// <param name="dInput">Null when only the steps need a gradient.</param>
    public static void Backward(float* dInput, float* dSteps, float* dOutput, float* x, float* steps, int rows, int cols, int qmax, float stepGradientScale)
    {
        int chunks = Chunks(cols);
        var partials = new double[(long)rows * chunks];
        float qp = qmax;
        ParallelRows.For(checked(rows * chunks), b =>
        {
            int r = b / chunks, chunk = b % chunks;
            float s = steps[r];
            if (s == 0f) return;
            double share = 0;
            int end = Math.Min(cols, (chunk + 1) * Chunk);
            for (int c = chunk * Chunk; c < end; c++)
            {
                long i = (long)r * cols + c;
                float g = dOutput[i], v = x[i] / s;
                if (float.IsNaN(v)) { if (dInput != null) dInput[i] += g; }
                else if (v < -qp) share += (double)g * -qp;
                else if (v > qp) share += (double)g * qp;
                else
                {
                    if (dInput != null) dInput[i] += g;
                    share += (double)g * (MathF.Round(v, MidpointRounding.ToEven) - v);
                }
            }
            partials[b] = share;
        });
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int k = 0; k < chunks; k++) sum += partials[(long)r * chunks + k];
            dSteps[r] += (float)(sum * stepGradientScale);
        }
    }
}
