using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;

namespace Engine.Backends.Cpu.Kernels;

/// <summary>
/// 8-bit AdamW for the CPU backend: the reference <see cref="AdamW8Bit"/> (the CUDA kernel's twin) vectorised, with
/// exactly its bits (CpuAdamW8BitTests asserts it). Per block, as the reference: dequantize (an AVX2 gather from the
/// 256-entry map, × the old absmax), the fp32 step lane by lane with the reference's operations in its order (plain
/// IEEE multiplies, divides and square roots, no FMA), the new absmax (max |x| ignoring NaN: the same in any order),
/// then each code: the largest map entry below x, as the reference's binary search finds it, and the same
/// nearer-entry choice. On AVX-512 the search is two compare-counts over a transposed copy of the map held in
/// registers (<see cref="NearestCode(Vector512{float}*, float*, Vector512{float})"/>); on AVX2 a branchless binary
/// search of 8 gathers. A block's last few elements, and CPUs without AVX2, run the reference's scalar functions.
/// Blocks are split over threads as the reference splits them, each block computed by one thread, so the thread
/// count cannot change a result.
/// </summary>
public static unsafe class CpuAdamW8Bit
{
    const int BlockSize = AdamW8Bit.BlockSize;
    const int Last = DynamicQuantizationMap.Size - 1;

    /// <summary>The step on fp32 weights in place (arguments as <see cref="AdamW8Bit.Step"/>).</summary>
    public static void Step(float* parameters, float* gradients, byte* m, byte* v, float* mAbsmax, float* vAbsmax, float* mMap, float* vMap, long count, int firstBlock,
        float lr, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        Run(parameters, null, default, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, count, firstBlock, lr, beta1, beta2, epsilon, weightDecay, step);

    /// <summary>The step on fp32 master weights, each block's new weights then rounded into the 16-bit copy
    /// (<see cref="HalfCast"/>: the same bits as the reference's element-wise rounding).</summary>
    public static void StepMixed(float* master, ushort* halfCopy, HalfFormat format, float* gradients, byte* m, byte* v, float* mAbsmax, float* vAbsmax, float* mMap, float* vMap, long count, int firstBlock,
        float lr, float beta1, float beta2, float epsilon, float weightDecay, int step) =>
        Run(master, halfCopy, format, gradients, m, v, mAbsmax, vAbsmax, mMap, vMap, count, firstBlock, lr, beta1, beta2, epsilon, weightDecay, step);

    /// <summary>The per-step constants, as the reference computes them.</summary>
    readonly struct Constants(float lr, float beta1, float beta2, float epsilon, float weightDecay, (float StepSize, float Bias2Sqrt) corrections)
    {
        public readonly float Decay = 1.0f - lr * weightDecay, Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon;
        public readonly float OneMinusBeta1 = 1.0f - beta1, OneMinusBeta2 = 1.0f - beta2;
        public readonly float StepSize = corrections.StepSize, Bias2Sqrt = corrections.Bias2Sqrt;
    }

    static void Run(float* parameters, ushort* halfCopy, HalfFormat format, float* gradients, byte* m, byte* v, float* mAbsmax, float* vAbsmax, float* mMap, float* vMap, long count, int firstBlock,
        float lr, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        var c = new Constants(lr, beta1, beta2, epsilon, weightDecay, AdamW8Bit.Corrections(lr, beta1, beta2, step));
        var level = Simd.Active;
        var width = level == SimdLevel.Vector512 && Avx512F.IsSupported && Avx2.IsSupported ? SimdLevel.Vector512
            : level >= SimdLevel.Vector256 && Avx2.IsSupported ? SimdLevel.Vector256 : SimdLevel.Scalar;
        long blocks = AdamW8Bit.BlockCount(count, firstBlock);
        ParallelRows.ForChunks(blocks, (from, to) =>
        {
            // One block's new moments between the update and the requantization.
            float* ms = stackalloc float[BlockSize], vs = stackalloc float[BlockSize];
            var mTable = stackalloc Vector512<float>[TableRows];
            var vTable = stackalloc Vector512<float>[TableRows];
            if (width == SimdLevel.Vector512) { BuildTable(mTable, mMap); BuildTable(vTable, vMap); }
            for (long b = from; b < to; b++)
            {
                long start = b == 0 ? 0 : firstBlock + (b - 1) * BlockSize;
                int n = (int)(Math.Min(count, b == 0 ? firstBlock : start + BlockSize) - start);
                var (mMax, vMax) = Update(parameters + start, gradients + start, m + start, v + start, ms, vs, n, mMap, vMap, mAbsmax[b], vAbsmax[b], c, width >= SimdLevel.Vector256);
                if (halfCopy != null) HalfCast.ToHalf(halfCopy + start, parameters + start, n, format, level); // one block: runs on this thread
                Quantize(m + start, ms, n, mMap, mTable, mMax, width);
                Quantize(v + start, vs, n, vMap, vTable, vMax, width);
                mAbsmax[b] = mMax;
                vAbsmax[b] = vMax;
            }
        }, chunk: 4);
    }

    /// <summary>One block's step: weights in place, the new moments into ms and vs; returns their absmax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (float M, float V) Update(float* p, float* g, byte* mCodes, byte* vCodes, float* ms, float* vs, int n, float* mMap, float* vMap, float mScale, float vScale, in Constants c, bool vector)
    {
        int i = 0;
        float mMax = 0f, vMax = 0f;
        if (vector && n >= 8)
        {
            Vector256<float> mAcc = Vector256<float>.Zero, vAcc = Vector256<float>.Zero;
            var (ms8, vs8) = (Vector256.Create(mScale), Vector256.Create(vScale));
            var (decay, beta1, beta2, oneMinusBeta1, oneMinusBeta2) = (Vector256.Create(c.Decay), Vector256.Create(c.Beta1), Vector256.Create(c.Beta2), Vector256.Create(c.OneMinusBeta1), Vector256.Create(c.OneMinusBeta2));
            var (stepSize, bias2Sqrt, epsilon) = (Vector256.Create(c.StepSize), Vector256.Create(c.Bias2Sqrt), Vector256.Create(c.Epsilon));
            for (; i + 8 <= n; i += 8)
            {
                var mi = Avx2.GatherVector256(mMap, Avx2.ConvertToVector256Int32(mCodes + i), 4) * ms8;
                var vi = Avx2.GatherVector256(vMap, Avx2.ConvertToVector256Int32(vCodes + i), 4) * vs8;
                var gi = Vector256.Load(g + i);
                // AdamW8Bit.ElementStep lane by lane.
                var pi = Vector256.Load(p + i) * decay;
                mi = beta1 * mi + oneMinusBeta1 * gi;
                vi = beta2 * vi + oneMinusBeta2 * gi * gi;
                var denominator = Vector256.Sqrt(vi) / bias2Sqrt + epsilon;
                (pi - stepSize * mi / denominator).Store(p + i);
                mi.Store(ms + i);
                vi.Store(vs + i);
                mAcc = AbsMaxStep(mAcc, mi);
                vAcc = AbsMaxStep(vAcc, vi);
            }
            for (int k = 0; k < 8; k++)
            {
                mMax = AdamW8Bit.AbsMaxStep(mMax, mAcc[k]);
                vMax = AdamW8Bit.AbsMaxStep(vMax, vAcc[k]);
            }
        }
        for (; i < n; i++)
        {
            float mi = mMap[mCodes[i]] * mScale, vi = vMap[vCodes[i]] * vScale;
            p[i] = AdamW8Bit.ElementStep(p[i], g[i], ref mi, ref vi, c.Decay, c.Beta1, c.Beta2, c.Epsilon, c.StepSize, c.Bias2Sqrt);
            ms[i] = mi;
            vs[i] = vi;
            mMax = AdamW8Bit.AbsMaxStep(mMax, mi);
            vMax = AdamW8Bit.AbsMaxStep(vMax, vi);
        }
        return (mMax, vMax);
    }

    /// <summary><see cref="AdamW8Bit.AbsMaxStep"/> lane by lane: |x| where it is greater (never for NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> AbsMaxStep(Vector256<float> max, Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(a, max), a, max);
    }

    /// <summary>codes[i] = <see cref="AdamW8Bit.Quantize"/>(map, values[i], absmax).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Quantize(byte* codes, float* values, int n, float* map, Vector512<float>* table, float absmax, SimdLevel width)
    {
        if (!(absmax > 0f))
        {
            // Every value quantizes as 0 (the reference's zero block).
            new Span<byte>(codes, n).Fill(AdamW8Bit.Quantize(map, 0f, absmax));
            return;
        }
        int i = 0;
        if (width == SimdLevel.Vector512)
        {
            var scale = Vector512.Create(absmax);
            for (; i + 16 <= n; i += 16)
                Avx512F.ConvertToVector128Byte(NearestCode(table, map, Vector512.Load(values + i) / scale)).Store(codes + i);
        }
        else if (width == SimdLevel.Vector256)
        {
            var scale = Vector256.Create(absmax);
            for (; i + 16 <= n; i += 16)
            {
                var lo = NearestCode(map, Vector256.Load(values + i) / scale);
                var hi = NearestCode(map, Vector256.Load(values + i + 8) / scale);
                var shorts = Vector256.Narrow(lo, hi).AsUInt16(); // codes 0..255: each narrowing keeps the low bits
                Vector128.Narrow(shorts.GetLower(), shorts.GetUpper()).Store(codes + i);
            }
        }
        for (; i < n; i++) codes[i] = AdamW8Bit.Quantize(map, values[i], absmax);
    }

    /// <summary>
    /// <see cref="AdamW8Bit.NearestCode"/> lane by lane: lo = the largest index with map[lo] &lt; x (branchless: add
    /// 128, 64, …, 1 where the entry there is still below x), which is the reference's binary search result for
    /// map[0] &lt; x &lt; map[255]; then the nearer of lo and lo + 1, a tie going up; 0 at or below map[0] and for NaN,
    /// 255 at or above map[255]. Every gathered index stays within the 256 entries.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> NearestCode(float* map, Vector256<float> x)
    {
        var lo = Vector256<int>.Zero;
        for (int step = 128; step >= 1; step /= 2)
        {
            var candidate = lo + Vector256.Create(step);
            var below = Vector256.LessThan(Avx2.GatherVector256(map, candidate, 4), x).AsInt32();
            lo = Vector256.ConditionalSelect(below, candidate, lo);
        }
        lo = Vector256.Min(lo, Vector256.Create(Last - 1));
        var hi = lo + Vector256<int>.One;
        var lower = x - Avx2.GatherVector256(map, lo, 4);
        var upper = Avx2.GatherVector256(map, hi, 4) - x;
        var code = Vector256.ConditionalSelect(Vector256.LessThan(lower, upper).AsInt32(), lo, hi);
        code = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256.Create(map[Last])).AsInt32(), Vector256.Create(Last), code);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(map[0])).AsInt32(), code, Vector256<int>.Zero);
    }

    /// <summary>Rows of a map's transposed table: lane k of row t is map[16k + t], t = 0..16 (row 16 is the next
    /// group's first entry; its last lane, past the map, repeats map[255]).</summary>
    const int TableRows = 17;

    static void BuildTable(Vector512<float>* table, float* map)
    {
        float* lanes = stackalloc float[16];
        for (int t = 0; t < TableRows; t++)
        {
            for (int k = 0; k < 16; k++) lanes[k] = map[Math.Min(16 * k + t, Last)];
            table[t] = Vector512.Load(lanes);
        }
    }

    /// <summary>
    /// The same codes as the Vector256 search, without gathers: the group g = the number of entries map[16k]
    /// (k = 1..15) below x, so map[16g] &lt; x ≤ map[16g + 16]; then within the group, one permute per entry
    /// (table row t at lane g) counts the entries below x (lo = 16g + that count) and keeps map[lo] (the last one
    /// below) and map[lo + 1] (the smallest one not below, row 16 included).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> NearestCode(Vector512<float>* table, float* map, Vector512<float> x)
    {
        var group = Vector512<int>.Zero;
        for (int k = 1; k < 16; k++) group -= Vector512.LessThan(Vector512.Create(map[16 * k]), x).AsInt32();
        var low = Avx512F.PermuteVar16x32(table[0], group);
        var high = Avx512F.PermuteVar16x32(table[16], group);
        var within = Vector512<int>.Zero;
        var infinity = Vector512.Create(float.PositiveInfinity);
        for (int t = 1; t < 16; t++)
        {
            var entry = Avx512F.PermuteVar16x32(table[t], group);
            var below = Vector512.LessThan(entry, x);
            within -= below.AsInt32();
            low = Vector512.ConditionalSelect(below, entry, low);
            high = Vector512.MinNative(high, Vector512.ConditionalSelect(below, infinity, entry));
        }
        var lo = Vector512.ShiftLeft(group, 4) + within;
        var code = Vector512.ConditionalSelect(Vector512.LessThan(x - low, high - x).AsInt32(), lo, lo + Vector512<int>.One);
        code = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512.Create(map[Last])).AsInt32(), Vector512.Create(Last), code);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(map[0])).AsInt32(), code, Vector512<int>.Zero);
    }
}
