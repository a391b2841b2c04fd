using Engine.Precision;
using Engine.Tensors;

namespace Engine.Backends.Cuda;

// Mixed-precision ops (ops/precision/precision.ops and the mixed AdamW in ops/optimizer/optimizer.ops). A Slice<ushort> holds
// bf16 or fp16 bits; the kernel named for the format reads them as __nv_bfloat16 or __half.
public sealed unsafe partial class CudaBackend
{
    public void CastToHalf(Slice<ushort> output, Slice<float> input, HalfFormat format)
    {
        SliceChecks.SameLength("cast to half", "output", output.Length, "input", input.Length);
        CastToHalf(Ptr(output), Ptr(input), input.Length, format);
    }

    /// <summary>n floats at <paramref name="input"/> rounded into the 16-bit format at <paramref name="output"/>.</summary>
    void CastToHalf(ulong output, ulong input, long n, HalfFormat format)
    {
        if (format == HalfFormat.Bf16) LaunchCastF32ToBf16(Elementwise(n), output, input, n);
        else LaunchCastF32ToF16(Elementwise(n), output, input, n);
    }

    public void CastFromHalf(Slice<float> output, Slice<ushort> input, HalfFormat format)
    {
        SliceChecks.SameLength("cast from half", "output", output.Length, "input", input.Length);
        CastFromHalf(Ptr(output), Ptr(input), input.Length, format);
    }

    /// <summary>n 16-bit values at <paramref name="input"/> widened to floats at <paramref name="output"/> (exact).</summary>
    void CastFromHalf(ulong output, ulong input, long n, HalfFormat format)
    {
        if (format == HalfFormat.Bf16) LaunchCastBf16ToF32(Elementwise(n), output, input, n);
        else LaunchCastF16ToF32(Elementwise(n), output, input, n);
    }

    public void AdamWMixed(Slice<float> master, Slice<ushort> halfCopy, HalfFormat format, Slice<float> gradients, Slice<float> m, Slice<float> v, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, int step)
    {
        SliceChecks.SameLength("adamw mixed", "master", master.Length, "half copy", halfCopy.Length);
        ulong p = Ptr(master), c = Ptr(halfCopy), g = Ptr(gradients), pm = Ptr(m), pv = Ptr(v);
        long n = master.Length;
        // The same bias corrections as AdamW, so the master weights get the bits the fp32 kernel would give.
        var (stepSize, bias2Sqrt) = AdamWCorrections(learningRate, beta1, beta2, step);
        if (format == HalfFormat.Bf16)
            LaunchAdamwMixedBf16(Elementwise(n), p, c, g, pm, pv, n, learningRate, beta1, beta2, epsilon, weightDecay, stepSize, bias2Sqrt);
        else
            LaunchAdamwMixedF16(Elementwise(n), p, c, g, pm, pv, n, learningRate, beta1, beta2, epsilon, weightDecay, stepSize, bias2Sqrt);
    }

    public bool UnscaleAndCheckFinite(Slice<float> gradients, float scale)
    {
        ulong flag = Scratch("unscale.non_finite", 4);
        float inverse = 1f / scale; // rounded to float here, as the CPU twin does, so both multiply by the same number
        device.Zero(flag, 4);
        LaunchUnscaleCheck(Elementwise(gradients.Length), Ptr(gradients), flag, gradients.Length, inverse);
        int nonFinite;
        device.CopyToHost(&nonFinite, flag, 4); // the one read back: the step must know whether to skip
        return nonFinite == 0;
    }
}
