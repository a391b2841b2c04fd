namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// Symmetric integer quantization on the CPU: the twin of ops/quantization/quantization.cu, element by element the
/// same arithmetic (x / scale in float, ties to even, clamp to [−Qp, Qp]), so the integers match the GPU's bit for bit.
/// A zero scale or a NaN input gives level 0; maxima ignore NaN.
/// </summary>
public static unsafe class Quantization
{
    /// <summary>The level of x for the scale s, as a float (0 for a zero scale or a NaN x).</summary>
    public static float Level(float x, float s, float qmax)
    {
        if (s == 0f) return 0f;
        float v = MathF.Round(x / s, MidpointRounding.ToEven);
        if (float.IsNaN(v)) return 0f;
        return v > qmax ? qmax : (v < -qmax ? -qmax : v);
    }

    /// <summary>max(m, |x|), keeping m when x is NaN.</summary>
    static float AbsMaxStep(float m, float x)
    {
        float a = MathF.Abs(x);
        return a > m ? a : m;
    }

    /// <summary>max |x| over n values, NaN ignored (0 when there are none).</summary>
    public static float AbsMax(float* x, long n)
    {
        float m = 0f;
        for (long i = 0; i < n; i++) m = AbsMaxStep(m, x[i]);
        return m;
    }

    public static void QuantizeRows(sbyte* q, float* scales, float* w, int rows, int cols, int qmax) =>
        ParallelRows.For(rows, r =>
        {
            float* row = w + (long)r * cols;
            sbyte* qr = q + (long)r * cols;
            float s = AbsMax(row, cols) / qmax;
            scales[r] = s;
            for (int c = 0; c < cols; c++) qr[c] = (sbyte)Level(row[c], s, qmax);
        });

    /// <summary>scale[0] = max|x| / qmax, then the levels of x for it.</summary>
    public static void QuantizeTensor(sbyte* q, float* scale, float* x, long n, int qmax)
    {
        float s = AbsMax(x, n) / qmax;
        *scale = s;
        ParallelRows.ForChunks(n, (start, end) =>
        {
            for (long i = start; i < end; i++) q[i] = (sbyte)Level(x[i], s, qmax);
        });
    }

    public static void QuantizeWithScales(sbyte* q, float* x, float* scales, int rows, int cols, int qmax) =>
        ParallelRows.ForChunks((long)rows * cols, (start, end) =>
        {
            for (long i = start; i < end; i++) q[i] = (sbyte)Level(x[i], scales[i / cols], qmax);
        });

    public static void DequantizeRows(float* output, sbyte* q, float* scales, int rows, int cols) =>
        ParallelRows.For(rows, r =>
        {
            float s = scales[r];
            long start = (long)r * cols;
            for (long i = start; i < start + cols; i++) output[i] = q[i] * s;
        });

    /// <summary>output = level(x, s_r)·s_r per row r; a NaN x passes through unchanged. Threads split the elements,
    /// not the rows: quantization-aware training calls it with one row (a whole activation tensor, one step).</summary>
    public static void FakeQuantizeRows(float* output, float* input, float* scales, int rows, int cols, int qmax) =>
        ParallelRows.ForChunks((long)rows * cols, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                float v = input[i], s = scales[i / cols];
                output[i] = float.IsNaN(v) ? v : Level(v, s, qmax) * s;
            }
        });

    /// <summary>Two's complement nibbles, element 2i in the low half of byte i; an odd n leaves the last high half 0.</summary>
    public static void PackInt4(byte* packed, sbyte* q, long n)
    {
        long bytes = (n + 1) / 2;
        for (long i = 0; i < bytes; i++)
        {
            int lo = q[2 * i] & 0xF, hi = 2 * i + 1 < n ? q[2 * i + 1] & 0xF : 0;
            packed[i] = (byte)(lo | (hi << 4));
        }
    }

    public static void UnpackInt4(sbyte* q, byte* packed, long n)
    {
        for (long i = 0; i < n; i++)
        {
            int b = packed[i / 2], nibble = (i & 1) != 0 ? b >> 4 : b & 0xF;
            q[i] = (sbyte)((nibble ^ 8) - 8);
        }
    }
}
