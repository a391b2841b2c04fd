using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// The per-row loops <see cref="CpuLayerNorm"/> and <see cref="CpuRmsNorm"/> share (RMSNorm is LayerNorm with the
/// mean taken as 0 and no bias), vectorised at the given <see cref="SimdLevel"/>. Sums run in float32 lanes, each
/// lane over the elements i ≡ lane (mod width) in index order, then the lanes in a fixed order: the same bits on every
/// run and for any thread count. Backward's sums and weight-gradient partials are float64 (see GradientSums).
/// </summary>
internal static unsafe class CpuNormRows
{
    /// <summary>Σ x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Sum(float* x, int C, SimdLevel level)
    {
        int i = 0;
        float sum = 0;
        if (level == SimdLevel.Vector512)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= C; i += 16) acc += Vector512.Load(x + i);
            sum = Vector512.Sum(acc);
        }
        else if (level == SimdLevel.Vector256)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= C; i += 8) acc += Vector256.Load(x + i);
            sum = Vector256.Sum(acc);
        }
        for (; i < C; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ (x[i] − mu)².</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float SumOfSquaredDeviations(float* x, float mu, int C, SimdLevel level)
    {
        int i = 0;
        float sum = 0;
        if (level == SimdLevel.Vector512)
        {
            var acc = Vector512<float>.Zero;
            var m = Vector512.Create(mu);
            for (; i + 16 <= C; i += 16) { var d = Vector512.Load(x + i) - m; acc += d * d; }
            sum = Vector512.Sum(acc);
        }
        else if (level == SimdLevel.Vector256)
        {
            var acc = Vector256<float>.Zero;
            var m = Vector256.Create(mu);
            for (; i + 8 <= C; i += 8) { var d = Vector256.Load(x + i) - m; acc += d * d; }
            sum = Vector256.Sum(acc);
        }
        for (; i < C; i++) { float d = x[i] - mu; sum += d * d; }
        return sum;
    }

    /// <summary>o[i] = (x[i] − mu)·s·w[i] (+ b[i] when b is not null).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(float* o, float* x, float mu, float s, float* w, float* b, int C, SimdLevel level)
    {
        int i = 0;
        if (level == SimdLevel.Vector512)
        {
            var (m, sv) = (Vector512.Create(mu), Vector512.Create(s));
            for (; i + 16 <= C; i += 16)
            {
                var y = (Vector512.Load(x + i) - m) * sv * Vector512.Load(w + i);
                Vector512.Store(b == null ? y : y + Vector512.Load(b + i), o + i);
            }
        }
        if (level >= SimdLevel.Vector256)
        {
            var (m, sv) = (Vector256.Create(mu), Vector256.Create(s));
            for (; i + 8 <= C; i += 8)
            {
                var y = (Vector256.Load(x + i) - m) * sv * Vector256.Load(w + i);
                Vector256.Store(b == null ? y : y + Vector256.Load(b + i), o + i);
            }
        }
        for (; i < C; i++)
        {
            float y = (x[i] - mu) * s * w[i];
            o[i] = b == null ? y : y + b[i];
        }
    }

    /// <summary>
    /// With g = dy·w and x̂ = (x − mu)·s, in float64 as the reference computes them: Σg (into sumG) and Σg·x̂ (into
    /// sumGx). Backward runs in float64 (8 or 4 lanes) so that its input gradient is the reference's to the last bit
    /// or so: a float32 one moved quantization-aware training's trajectories (values crossing rounding boundaries)
    /// far enough to break the sharded-vs-single-process equivalence tests.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GradientSums(float* dy, float* w, float* x, double mu, double s, int C, SimdLevel level, out double sumG, out double sumGx)
    {
        int i = 0;
        sumG = 0; sumGx = 0;
        if (level == SimdLevel.Vector512)
        {
            Vector512<double> g = Vector512<double>.Zero, gx = Vector512<double>.Zero;
            var (m, sv) = (Vector512.Create(mu), Vector512.Create(s));
            for (; i + 8 <= C; i += 8)
            {
                var gi = Vector512.WidenLower(Vector256.Load(dy + i).ToVector512Unsafe()) * Vector512.WidenLower(Vector256.Load(w + i).ToVector512Unsafe());
                g += gi;
                gx += gi * ((Vector512.WidenLower(Vector256.Load(x + i).ToVector512Unsafe()) - m) * sv);
            }
            sumG = Vector512.Sum(g); sumGx = Vector512.Sum(gx);
        }
        else if (level == SimdLevel.Vector256)
        {
            Vector256<double> g = Vector256<double>.Zero, gx = Vector256<double>.Zero;
            var (m, sv) = (Vector256.Create(mu), Vector256.Create(s));
            for (; i + 4 <= C; i += 4)
            {
                var gi = Vector256.WidenLower(Vector128.Load(dy + i).ToVector256Unsafe()) * Vector256.WidenLower(Vector128.Load(w + i).ToVector256Unsafe());
                g += gi;
                gx += gi * ((Vector256.WidenLower(Vector128.Load(x + i).ToVector256Unsafe()) - m) * sv);
            }
            sumG = Vector256.Sum(g); sumGx = Vector256.Sum(gx);
        }
        for (; i < C; i++)
        {
            double gi = (double)dy[i] * w[i];
            sumG += gi;
            sumGx += gi * ((x[i] - mu) * s);
        }
    }

    /// <summary>
    /// dx[i] += s·(g − meanG − x̂·meanGx); dwPartial[i] += dy·x̂; dbPartial[i] += dy (when not null); all in float64
    /// (see <see cref="GradientSums"/>), dx rounded once. Float64 partials make the weight gradients come out as the
    /// reference's do, nearly the correctly rounded sum, whichever way the rows are split (data-parallel ranks).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient(float* dx, double* dwPartial, double* dbPartial, float* dy, float* w, float* x, double mu, double s, double meanG, double meanGx, int C, SimdLevel level)
    {
        int i = 0;
        if (level == SimdLevel.Vector512)
        {
            var (m, sv, mg, mgx) = (Vector512.Create(mu), Vector512.Create(s), Vector512.Create(meanG), Vector512.Create(meanGx));
            for (; i + 8 <= C; i += 8)
            {
                var d = Vector512.WidenLower(Vector256.Load(dy + i).ToVector512Unsafe());
                var xh = (Vector512.WidenLower(Vector256.Load(x + i).ToVector512Unsafe()) - m) * sv;
                var g = d * Vector512.WidenLower(Vector256.Load(w + i).ToVector512Unsafe());
                var delta = sv * (g - mg - xh * mgx);
                // dx += (float)delta, as the reference rounds: float(delta) then a float32 add.
                var narrowed = Vector512.Narrow(delta, delta).GetLower();
                Vector256.Store(Vector256.Load(dx + i) + narrowed, dx + i);
                Vector512.Store(Vector512.Load(dwPartial + i) + d * xh, dwPartial + i);
                if (dbPartial != null) Vector512.Store(Vector512.Load(dbPartial + i) + d, dbPartial + i);
            }
        }
        if (level >= SimdLevel.Vector256)
        {
            var (m, sv, mg, mgx) = (Vector256.Create(mu), Vector256.Create(s), Vector256.Create(meanG), Vector256.Create(meanGx));
            for (; i + 4 <= C; i += 4)
            {
                var d = Vector256.WidenLower(Vector128.Load(dy + i).ToVector256Unsafe());
                var xh = (Vector256.WidenLower(Vector128.Load(x + i).ToVector256Unsafe()) - m) * sv;
                var g = d * Vector256.WidenLower(Vector128.Load(w + i).ToVector256Unsafe());
                var delta = sv * (g - mg - xh * mgx);
                var narrowed = Vector256.Narrow(delta, delta).GetLower();
                Vector128.Store(Vector128.Load(dx + i) + narrowed, dx + i);
                Vector256.Store(Vector256.Load(dwPartial + i) + d * xh, dwPartial + i);
                if (dbPartial != null) Vector256.Store(Vector256.Load(dbPartial + i) + d, dbPartial + i);
            }
        }
        for (; i < C; i++)
        {
            double d = dy[i], xh = (x[i] - mu) * s;
            dx[i] += (float)(s * (d * w[i] - meanG - xh * meanGx));
            dwPartial[i] += d * xh;
            if (dbPartial != null) dbPartial[i] += d;
        }
    }

    /// <summary>destination[i] += (float)Σ_k partials[k·C + i] for k = 0 … blocks − 1, in that order, in float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddPartials(float* destination, double* partials, int blocks, int C)
    {
        for (int i = 0; i < C; i++)
        {
            double sum = 0;
            for (int k = 0; k < blocks; k++) sum += partials[(long)k * C + i];
            destination[i] += (float)sum;
        }
    }

    /// <summary>Rows per task: about 16K elements, so a task pays for its hand-off; never depends on the thread count.</summary>
    public static int RowsPerBlock(int C) => Math.Max(1, 16384 / Math.Max(1, C));
}
