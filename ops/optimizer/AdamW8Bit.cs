using System.Runtime.CompilerServices;
using Engine.Precision;

namespace Engine.Backends.Cpu.Ops;

/// <summary>
/// The CPU twin of adamw8bit.cu: AdamW with both moments stored as 8-bit codes into the dynamic maps
/// (<see cref="DynamicQuantizationMap"/>), one fp32 absmax per block of <see cref="BlockSize"/> elements. Per block:
/// dequantize (map value × old absmax), the fp32 AdamW step, new absmax = max |m| (resp. v) over the block (NaN
/// ignored), code = nearest map entry to value / absmax. The float operations are the kernel's, one by one and in
/// its order, each rounded to fp32 (C# never fuses a·b + c; the kernel uses non-contractible intrinsics), so the two
/// agree bit for bit. Unlike <see cref="AdamW{T}"/>, which computes in double, this step is fp32 throughout: the
/// moments it feeds are quantized to a few significant bits anyway, and bit-exactness with the GPU needs one type.
/// </summary>
public static unsafe class AdamW8Bit
{
    /// <summary>Elements per quantization block (the paper's and bitsandbytes' 2048).</summary>
    public const int BlockSize = 2048;

    /// <summary>Blocks of a piece of <paramref name="count"/> elements whose first block holds
    /// <paramref name="firstBlock"/> (1..2048) of them and every later one 2048 (the last one fewer).</summary>
    public static long BlockCount(long count, int firstBlock) =>
        count <= 0 ? 0 : count <= firstBlock ? 1 : 1 + (count - firstBlock + BlockSize - 1) / BlockSize;

    /// <summary>The first block's size for a piece starting <paramref name="offsetInTensor"/> elements into its tensor:
    /// blocks follow the tensor's 2048-grid, so a piece that starts inside a grid cell ends that cell first.</summary>
    public static int FirstBlockOf(long offsetInTensor, long count) =>
        (int)Math.Min(count, BlockSize - offsetInTensor % BlockSize);

    /// <summary>AdamW's bias corrections, computed once per step in double and rounded to fp32 (the CUDA backend
    /// passes these same floats to its kernels): step_size = lr / (1 − β1ᵗ), bias2_sqrt = √(1 − β2ᵗ).</summary>
    public static (float StepSize, float Bias2Sqrt) Corrections(float learningRate, float beta1, float beta2, int step) =>
        ((float)(learningRate / (1 - Math.Pow(beta1, step))), (float)Math.Sqrt(1 - Math.Pow(beta2, step)));

    /// <summary>Checks the arguments of both ops (the CUDA backend calls it too): sizes, block count, maps.</summary>
    public static void Check(string op, long parameters, long gradients, long m, long v, long mAbsmax, long vAbsmax, long mMap, long vMap, int firstBlock)
    {
        if (gradients != parameters || m != parameters || v != parameters)
            throw new ArgumentException($"{op}: {parameters} parameters, {gradients} gradients, {m} and {v} moment codes: all must be equal");
        if (firstBlock < 1 || firstBlock > BlockSize)
            throw new ArgumentOutOfRangeException(nameof(firstBlock), $"{op}: the first block holds 1..{BlockSize} elements, not {firstBlock}");
        long blocks = BlockCount(parameters, firstBlock);
        if (mAbsmax != blocks || vAbsmax != blocks)
            throw new ArgumentException($"{op}: {parameters} elements with a first block of {firstBlock} make {blocks} blocks, but {mAbsmax} and {vAbsmax} absmax values were given");
        if (mMap != DynamicQuantizationMap.Size || vMap != DynamicQuantizationMap.Size)
            throw new ArgumentException($"{op}: the maps hold {DynamicQuantizationMap.Size} values, not {mMap} and {vMap}");
    }

    /// <summary>The step on fp32 weights in place.</summary>
    public static void Step(float* parameters, float* gradients, byte* m, byte* v, float* mAbsmax, float* vAbsmax, float* mMap, float* vMap, long count, int firstBlock,
        float lr, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        Run(parameters, null, default, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, count, firstBlock, lr, beta1, beta2, epsilon, weightDecay, step);

    /// <summary>The step on fp32 master weights, writing halfCopy[i] = the new master rounded to
    /// <paramref name="format"/> in the same pass.</summary>
    public static void StepMixed(float* master, ushort* halfCopy, HalfFormat format, float* gradients, byte* m, byte* v, float* mAbsmax, float* vAbsmax, float* mMap, float* vMap, long count, int firstBlock,
        float lr, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        Run(master, halfCopy, format, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, count, firstBlock, lr, beta1, beta2, epsilon, weightDecay, step);

    static void Run(float* parameters, ushort* halfCopy, HalfFormat format, float* gradients, byte* m, byte* v, float* mAbsmax, float* vAbsmax, float* mMap, float* vMap, long count, int firstBlock,
        float lr, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        var (stepSize, bias2Sqrt) = Corrections(lr, beta1, beta2, step);
        float decay = 1.0f - lr * weightDecay;
        long blocks = BlockCount(count, firstBlock);
        ParallelRows.ForChunks(blocks, (from, to) =>
        {
            // One block's new moments between the update and the requantization (the kernel keeps them in registers).
            Span<float> ms = stackalloc float[BlockSize], vs = stackalloc float[BlockSize];
            for (long b = from; b < to; b++)
            {
                long start = b == 0 ? 0 : firstBlock + (b - 1) * BlockSize;
                long end = Math.Min(count, b == 0 ? firstBlock : start + BlockSize);
                float mScale = mAbsmax[b], vScale = vAbsmax[b];
                float mMax = 0f, vMax = 0f;
                for (long i = start; i < end; i++)
                {
                    float mi = mMap[m[i]] * mScale, vi = vMap[v[i]] * vScale;
                    float p = ElementStep(parameters[i], gradients[i], ref mi, ref vi, decay, beta1, beta2, epsilon, stepSize, bias2Sqrt);
                    parameters[i] = p;
                    if (halfCopy != null) halfCopy[i] = HalfFormats.FromFloat(format, p);
                    ms[(int)(i - start)] = mi;
                    vs[(int)(i - start)] = vi;
                    mMax = AbsMaxStep(mMax, mi);
                    vMax = AbsMaxStep(vMax, vi);
                }
                for (long i = start; i < end; i++)
                {
                    m[i] = Quantize(mMap, ms[(int)(i - start)], mMax);
                    v[i] = Quantize(vMap, vs[(int)(i - start)], vMax);
                }
                mAbsmax[b] = mMax;
                vAbsmax[b] = vMax;
            }
        }, chunk: 4);
    }

    /// <summary>adamw8bit.cu's element_step: p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + ((1−β2)·g)·g;
    /// p − (step_size·m) / (√v / bias2_sqrt + ε); every operation rounded to fp32 in this order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ElementStep(float parameter, float gradient, ref float m, ref float v, float decay, float beta1, float beta2, float epsilon, float stepSize, float bias2Sqrt)
    {
        float p = parameter * decay;
        m = beta1 * m + (1.0f - beta1) * gradient;
        v = beta2 * v + (1.0f - beta2) * gradient * gradient;
        float denominator = MathF.Sqrt(v) / bias2Sqrt + epsilon;
        return p - stepSize * m / denominator;
    }

    /// <summary>max(m, |x|) keeping m when x is NaN: the same maximum in any order (the kernel reduces a tree).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float AbsMaxStep(float m, float x)
    {
        float a = MathF.Abs(x);
        return a > m ? a : m;
    }

    /// <summary>The code of <paramref name="value"/> in a block of absmax <paramref name="scale"/>: the nearest entry
    /// to value / scale (0 for a zero block's values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Quantize(float* map, float value, float scale) => (byte)NearestCode(map, scale > 0f ? value / scale : 0f);

    /// <summary>
    /// The index of the map entry nearest to x (map ascending, 256 entries): 0 at or below map[0] (and for NaN), 255 at
    /// or above map[255]; otherwise the binary search leaves map[lo] &lt; x ≤ map[lo + 1] and the nearer wins, a tie
    /// (equal rounded fp32 distances) going to the upper entry.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestCode(float* map, float x)
    {
        if (!(x > map[0])) return 0;
        if (x >= map[DynamicQuantizationMap.Size - 1]) return DynamicQuantizationMap.Size - 1;
        int lo = 0, hi = DynamicQuantizationMap.Size - 1;
        while (hi - lo > 1)
        {
            int mid = (lo + hi) / 2;
            if (map[mid] < x) lo = mid; else hi = mid;
        }
        return x - map[lo] < map[hi] - x ? lo : hi;
    }
}
