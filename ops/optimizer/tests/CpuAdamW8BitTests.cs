using Engine.Backends.Cpu.Kernels;
using Engine.Backends.Cpu.Ops;
using Engine.Precision;
using Engine.Tests.Backends.Cpu.Ops;
using static Engine.Tests.Support.BackendArrays;
using Engine.Tests.Support;

namespace Engine.Tests.Backends.Cpu.Kernels;

/// <summary>The vectorised 8-bit AdamW gives exactly the reference's bits (weights, codes, absmax, 16-bit copy) on every
/// vector width and thread count.</summary>
public unsafe class CpuAdamW8BitTests
{
    sealed record State(float[] P, byte[] M, byte[] V, float[] MAbs, float[] VAbs, ushort[] Half)
    {
        public State Copy() => new([.. P], [.. M], [.. V], [.. MAbs], [.. VAbs], [.. Half]);
    }

    [Theory]
    [InlineData(SimdLevel.Scalar, 1, 5000, 1000, null)]
    [InlineData(SimdLevel.Vector256, 1, 5000, 1000, null)]
    [InlineData(SimdLevel.Vector256, 4, 2048 * 9 + 5, 2048, HalfFormat.Bf16)]  // several tasks of 4 blocks, ragged end
    [InlineData(SimdLevel.Vector512, 3, 4099, 37, HalfFormat.Fp16)]         // odd first block: tails in every block
    [InlineData(SimdLevel.Vector512, 2, 13, 13, null)]                      // one block under one vector group
    [InlineData(SimdLevel.Vector512, 4, 2048 * 17 + 1001, 999, HalfFormat.Bf16)]
    public void Three_steps_give_the_reference_bits(SimdLevel level, int threads, int count, int firstBlock, HalfFormat? half)
    {
        var (mCodes, vCodes, mAbs, vAbs) = AdamW8BitTests.QuantizedState(count, firstBlock, seed: count);
        var state = new State(RandomArray(count, count + 1), mCodes, vCodes, mAbs, vAbs, new ushort[count]);
        // A zero block (absmax 0, all codes the zero entry) and a few special gradients: NaN, ±∞, exact zeros.
        int zeroFrom = Math.Min(firstBlock, count), zeroTo = (int)Math.Min(count, zeroFrom + 2048L);
        var (signed, unsigned) = (DynamicQuantizationMap.Signed(), DynamicQuantizationMap.Unsigned());
        for (int i = zeroFrom; i < zeroTo; i++) { state.M[i] = (byte)Array.IndexOf(signed, 0f); state.V[i] = 0; }
        if (zeroTo > zeroFrom) { state.MAbs[1] = 0; state.VAbs[1] = 0; }
        var fast = state.Copy();
        var reference = state.Copy();
        for (int step = 1; step <= 3; step++)
        {
            var g = RandomArray(count, 100 * step + count, 0.01);
            for (int i = zeroFrom; i < zeroTo; i++) g[i] = 0;
            if (step == 2 && count > 40) { g[3] = float.NaN; g[count - 2] = float.PositiveInfinity; g[count / 2] = float.NegativeInfinity; }
            Apply(fast, g, firstBlock, step, half, level, threads, vectorised: true);
            Apply(reference, g, firstBlock, step, half, SimdLevel.Scalar, 1, vectorised: false);
            AssertSameBits(reference, fast, $"step {step}");
        }
    }

    static void Apply(State s, float[] g, int firstBlock, int step, HalfFormat? half, SimdLevel level, int threads, bool vectorised)
    {
        var (mMap, vMap) = (DynamicQuantizationMap.Signed(), DynamicQuantizationMap.Unsigned());
        using var threadLimit = new ThreadLimit(threads);
        fixed (float* p = s.P, gp = g, ma = s.MAbs, va = s.VAbs, mm = mMap, vm = vMap)
        fixed (byte* m = s.M, v = s.V)
        fixed (ushort* h = s.Half)
        using (Simd.ForceForCurrentThread(level))
        {
            const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, decay = 0.1f;
            if (half is { } format)
            {
                if (vectorised) CpuAdamW8Bit.StepMixed(p, h, format, gp, m, v, ma, va, mm, vm, s.P.Length, firstBlock, lr, beta1, beta2, eps, decay, step);
                else AdamW8Bit.StepMixed(p, h, format, gp, m, v, ma, va, mm, vm, s.P.Length, firstBlock, lr, beta1, beta2, eps, decay, step);
            }
            else if (vectorised) CpuAdamW8Bit.Step(p, gp, m, v, ma, va, mm, vm, s.P.Length, firstBlock, lr, beta1, beta2, eps, decay, step);
            else AdamW8Bit.Step(p, gp, m, v, ma, va, mm, vm, s.P.Length, firstBlock, lr, beta1, beta2, eps, decay, step);
        }
    }

    static void AssertSameBits(State expected, State actual, string when)
    {
        MatmulAssert.BitIdentical(expected.P, actual.P, $"weights after {when}");
        MatmulAssert.BitIdentical(expected.MAbs, actual.MAbs, $"m absmax after {when}");
        MatmulAssert.BitIdentical(expected.VAbs, actual.VAbs, $"v absmax after {when}");
        for (int i = 0; i < expected.M.Length; i++)
        {
            if (expected.M[i] != actual.M[i]) Assert.Fail($"m code {i} after {when}: {actual.M[i]}, reference {expected.M[i]}");
            if (expected.V[i] != actual.V[i]) Assert.Fail($"v code {i} after {when}: {actual.V[i]}, reference {expected.V[i]}");
            if (expected.Half[i] != actual.Half[i]) Assert.Fail($"16-bit copy {i} after {when}: {actual.Half[i]:X4}, reference {expected.Half[i]:X4}");
        }
    }
}
