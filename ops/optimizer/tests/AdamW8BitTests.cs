using Engine.Backends.Cpu;
using Engine.Backends.Cpu.Ops;
using Engine.Optim;
using Engine.Tensors;
using static Engine.Tests.Support.BackendArrays;

namespace Engine.Tests.Backends.Cpu.Ops;

/// <summary>
/// 8-bit AdamW on the CPU (ops/optimizer/AdamW8Bit.cs): the dynamic maps, one update against fp32 AdamW within the
/// quantization error, the small-tensor fp32 fallback bit for bit, and the block layout of tensor pieces.
/// </summary>
public class AdamW8BitTests
{
    const float Lr = 1e-3f, Beta1 = 0.9f, Beta2 = 0.95f, Eps = 1e-8f, Decay = 0.1f;

    [Fact]
    public void The_maps_are_256_ascending_values_with_zero_and_one_and_the_papers_extremes()
    {
        foreach (var (map, signed) in new[] { (DynamicQuantizationMap.Signed(), true), (DynamicQuantizationMap.Unsigned(), false) })
        {
            Assert.Equal(256, map.Length);
            for (int i = 1; i < map.Length; i++) Assert.True(map[i] > map[i - 1], $"map[{i}] {map[i]} ≤ map[{i - 1}]");
            Assert.Contains(0f, map);
            Assert.Equal(1f, map[^1]);
            // Largest below 1: the last midpoint of the 10^0 decade, 1 − 0.9/(2·2^F), F = 6 (signed) or 7 fraction bits.
            Assert.Equal((float)(1 - 0.9 / (signed ? 128 : 256)), map[^2]);
            // Smallest positive: the single (signed) or first of two (unsigned) midpoints of the 10^−6 decade.
            Assert.Equal((float)(signed ? 0.55e-6 : 0.325e-6), map.Where(x => x > 0).Min());
        }
        var s = DynamicQuantizationMap.Signed();
        Assert.Equal(127, s.Count(x => x < 0));
        Assert.Equal(-s[^2], s[0]); // no −1: the sign bit's all-zero code is +1
        Assert.DoesNotContain(DynamicQuantizationMap.Unsigned(), x => x < 0);
    }

    [Fact]
    public unsafe void Nearest_code_is_the_nearest_entry_and_ties_go_up()
    {
        var map = DynamicQuantizationMap.Signed();
        var rng = new Random(3);
        fixed (float* m = map)
        {
            for (int k = 0; k < 10_000; k++)
            {
                float x = (float)(rng.NextDouble() * 2.2 - 1.1);
                int code = AdamW8Bit.NearestCode(m, x);
                float best = map.Min(e => MathF.Abs(e - x));
                Assert.True(MathF.Abs(map[code] - x) == best, $"{x}: code {code} ({map[code]}) is not the nearest");
            }
            // An exact midpoint of two entries whose distances round equal goes to the upper entry.
            int i = Array.IndexOf(map, 0f);
            float mid = (map[i] + map[i + 1]) / 2;
            Assert.Equal(i + 1, AdamW8Bit.NearestCode(m, mid));
            Assert.Equal(0, AdamW8Bit.NearestCode(m, -5f));
            Assert.Equal(255, AdamW8Bit.NearestCode(m, 5f));
        }
    }

    /// <summary>
    /// One step from a quantized state against fp32 AdamW from the same (dequantized) moments. The weights get the
    /// same update up to fp32-vs-double arithmetic (AdamW&lt;float&gt; computes in double): a few roundings of 2^−24
    /// relative each in the update, bounded here by 1e−6 of the update size, plus 2 fp32 ulps of the weight (half an ulp
    /// each for the fp32 p·(1 − lr·wd) and the final subtraction, half for the reference's one rounding of its double). The stored moments are the
    /// reference's rounded to the nearest map entry times the block's absmax: off by at most half the widest gap of the
    /// map, which is in the top decade [0.1, 1]: 0.9/64 between neighbours of the signed map (64 midpoints), 0.9/128
    /// of the unsigned (128), so |m̂ − m| ≤ 0.9/128 · absmax and |v̂ − v| ≤ 0.9/256 · absmax (×(1 + 1e−6) for the
    /// fp32 rounding of value/absmax and of code × absmax).
    /// </summary>
    [Fact]
    public void One_update_matches_fp32_AdamW_within_the_quantization_error()
    {
        const int n = 5000, first = 1000; // blocks of 1000, 2048 and 1952
        using var cpu = new CpuBackend();
        var p0 = RandomArray(n, 1);
        var g = RandomArray(n, 2, 0.01);
        var (mCodes, vCodes, mAbs, vAbs) = QuantizedState(n, first, seed: 3);
        var mapM = Upload(cpu, DynamicQuantizationMap.Signed());
        var mapV = Upload(cpu, DynamicQuantizationMap.Unsigned());
        var (m0, v0) = (Dequantize(mCodes, mAbs, first, DynamicQuantizationMap.Signed()), Dequantize(vCodes, vAbs, first, DynamicQuantizationMap.Unsigned()));

        var p8 = Upload(cpu, p0);
        var (cm, cv, am, av) = (Upload(cpu, mCodes), Upload(cpu, vCodes), Upload(cpu, mAbs), Upload(cpu, vAbs));
        cpu.AdamW8Bit(p8, Upload(cpu, g), cm, cv, am, av, mapM, mapV, first, Lr, Beta1, Beta2, Eps, Decay, 4);

        var pRef = Upload(cpu, p0);
        var (mRef, vRef) = (Upload(cpu, m0), Upload(cpu, v0));
        cpu.AdamW(pRef, Upload(cpu, g), mRef, vRef, Lr, Beta1, Beta2, Eps, Decay, 4);

        var (pa, pb) = (Download(cpu, p8), Download(cpu, pRef));
        for (int i = 0; i < n; i++)
        {
            double update = Math.Abs(pb[i] - p0[i]);
            Assert.True(Math.Abs(pa[i] - pb[i]) <= 1e-6 * update + 2.0 * (MathF.BitIncrement(MathF.Abs(pb[i])) - MathF.Abs(pb[i])),
                $"weight {i}: 8-bit {pa[i]:R}, fp32 {pb[i]:R}");
        }
        var m8 = Dequantize(Download(cpu, cm), Download(cpu, am), first, DynamicQuantizationMap.Signed());
        var v8 = Dequantize(Download(cpu, cv), Download(cpu, av), first, DynamicQuantizationMap.Unsigned());
        var (mr, vr) = (Download(cpu, mRef), Download(cpu, vRef));
        var absM = Download(cpu, am); var absV = Download(cpu, av);
        for (int i = 0; i < n; i++)
        {
            int b = i < first ? 0 : 1 + (i - first) / 2048;
            Assert.True(Math.Abs(m8[i] - mr[i]) <= 0.9 / 128 * absM[b] * (1 + 1e-6), $"m[{i}]: 8-bit {m8[i]}, fp32 {mr[i]}, absmax {absM[b]}");
            Assert.True(Math.Abs(v8[i] - vr[i]) <= 0.9 / 256 * absV[b] * (1 + 1e-6), $"v[{i}]: 8-bit {v8[i]}, fp32 {vr[i]}, absmax {absV[b]}");
        }
        // Each block's new absmax is its largest |moment| (fp32 max of the block, as computed by AdamW in fp32).
        Assert.Equal(mr.Take(first).Max(Math.Abs), absM[0], 1e-6f * absM[0]);
        Assert.Equal(vr.Skip(first).Take(2048).Max(), absV[1], 1e-6f * absV[1]);
    }

    [Fact]
    public void Tensors_under_4096_elements_keep_fp32_moments_and_step_exactly_as_AdamW()
    {
        var layout = new ParameterLayout();
        layout.Add("big.weight", [70, 100]);   // 7000: quantized, blocks 2048 × 3 + 856
        layout.Add("big.bias", [100]);          // small
        layout.Add("norm.weight", [4095]);      // small: one under the threshold
        layout.Add("proj.weight", [64, 64]);    // 4096: quantized
        using var cpu = new CpuBackend();
        var p0 = RandomArray((int)layout.Count, 5);
        Slice<float> Run(OptimizerKind kind, out AdamWOptimizer optimizer)
        {
            var p = Upload(cpu, p0);
            var g = cpu.Allocate<float>(layout.Count, "g");
            optimizer = new AdamWOptimizer(cpu, layout, p, g, new AdamWSettings(Optimizer: kind));
            for (int step = 1; step <= 3; step++)
            {
                cpu.CopyIn<float>(RandomArray((int)layout.Count, 10 + step, 0.01), g);
                optimizer.Update(Lr);
            }
            return p;
        }
        var fp32 = Download(cpu, Run(OptimizerKind.AdamW, out _));
        var eight = Download(cpu, Run(OptimizerKind.AdamW8Bit, out var q));
        foreach (var t in layout.Tensors.Where(t => t.Count < BlockwiseMoments.MinQuantizedTensor))
            AssertSameBits(fp32.AsSpan((int)t.Offset, (int)t.Count).ToArray(), eight.AsSpan((int)t.Offset, (int)t.Count).ToArray(), t.Name);
        var state = q.EightBit!;
        Assert.Equal(7000 + 4096, state.FirstCodes.Length);
        Assert.Equal(4 + 2, state.FirstAbsmax.Length);
        Assert.Equal(100 + 4095, state.FirstSmall.Length);
        Assert.Equal(2 * (11096 + 6 * 4 + 4195 * 4) + 2 * 1024, q.MomentBytes);
        // The two small tensors are neighbours with the same settings: one fp32 call.
        Assert.Equal(3, state.Pieces.Count);
    }

    [Fact]
    public void A_piece_that_starts_inside_a_tensor_keeps_the_tensors_block_grid()
    {
        Assert.Equal(2048, AdamW8Bit.FirstBlockOf(0, 10_000));
        Assert.Equal(48, AdamW8Bit.FirstBlockOf(2000, 10_000));  // ends the grid cell [0, 2048) the piece starts in
        Assert.Equal(30, AdamW8Bit.FirstBlockOf(2000, 30));
        Assert.Equal(1 + 4 + 1, AdamW8Bit.BlockCount(48 + 4 * 2048 + 1, 48));
        using var cpu = new CpuBackend();
        var pieces = new[] { new OptimizerSegment(0, 3000, true, 1f, 2000, 10_000) };
        var state = new BlockwiseMoments(cpu, pieces);
        Assert.Equal(new BlockwiseMoments.Piece(pieces[0], true, 0, 0, 48, 3), state.Pieces[0]);
        var merged = new OptimizerSegment(0, 3000, true);
        var e = Assert.Throws<ArgumentException>(() => new BlockwiseMoments(cpu, [merged]));
        Assert.Contains("tensor pieces", e.Message);
    }

    [Fact]
    public void Wrong_sizes_are_refused_before_anything_is_written()
    {
        using var cpu = new CpuBackend();
        var p = Upload(cpu, RandomArray(3000, 1));
        var before = Download(cpu, p);
        var codes = cpu.Allocate<byte>(3000, "m");
        var map = Upload(cpu, DynamicQuantizationMap.Signed());
        var e = Assert.Throws<ArgumentException>(() => cpu.AdamW8Bit(p, cpu.Allocate<float>(3000, "g"), codes, codes, cpu.Allocate<float>(1, "a"), cpu.Allocate<float>(1, "a"),
            map, map, 2048, Lr, Beta1, Beta2, Eps, Decay, 1));
        Assert.Contains("make 2 blocks", e.Message);
        Assert.Equal(before, Download(cpu, p));
    }

    /// <summary>A random state as the optimizer would hold it: per block, codes of random moments and their absmax.</summary>
    internal static unsafe (byte[] M, byte[] V, float[] MAbs, float[] VAbs) QuantizedState(int n, int first, int seed)
    {
        var m = RandomArray(n, seed, 0.01);
        var v = RandomArray(n, seed + 1, 1e-4).Select(MathF.Abs).ToArray();
        long blocks = AdamW8Bit.BlockCount(n, first);
        var (mc, vc, ma, va) = (new byte[n], new byte[n], new float[blocks], new float[blocks]);
        var (sm, um) = (DynamicQuantizationMap.Signed(), DynamicQuantizationMap.Unsigned());
        fixed (float* s = sm, u = um)
            for (long b = 0; b < blocks; b++)
            {
                long from = b == 0 ? 0 : first + (b - 1) * 2048, to = Math.Min(n, b == 0 ? first : from + 2048);
                ma[b] = m.Skip((int)from).Take((int)(to - from)).Max(MathF.Abs);
                va[b] = v.Skip((int)from).Take((int)(to - from)).Max();
                for (long i = from; i < to; i++) { mc[i] = AdamW8Bit.Quantize(s, m[i], ma[b]); vc[i] = AdamW8Bit.Quantize(u, v[i], va[b]); }
            }
        return (mc, vc, ma, va);
    }

    internal static float[] Dequantize(byte[] codes, float[] absmax, int first, float[] map) =>
        codes.Select((c, i) => map[c] * absmax[i < first ? 0 : 1 + (i - first) / 2048]).ToArray();
}
